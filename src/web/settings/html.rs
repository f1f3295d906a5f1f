//! "My settings" (maud, escaped): the language form and the password form, each refused
//! field's message next to it.

use maud::{Markup, html};

use crate::store::accounts::Language;
use crate::web::form::{Refusals, input, select};
use crate::web::i18n::{Lang, Text, t};
use crate::web::page::{Ctx, layout};

pub(super) fn render(ctx: &Ctx, site: &str, refusals: &Refusals) -> Markup {
    let lang: Lang = ctx.lang;
    let chosen = ctx.session.language.map(Language::as_str).unwrap_or("");
    let body = html! {
        h1 { (t(lang, Text::Settings)) }
        p { (ctx.session.username) " · " (ctx.session.role.as_str()) }
        h2 { (lang.pick("Language", "Langue")) }
        form method="post" action="/settings" id="language-form" {
            (ctx.csrf_field())
            (select("language", lang.pick("Language of the pages", "Langue des pages"),
                &[("", lang.pick("The browser's", "Celle du navigateur")), ("en", "English"), ("fr", "Français")],
                chosen, refusals))
            button type="submit" { (lang.pick("Save the language", "Enregistrer la langue")) }
        }
        h2 { (lang.pick("Password", "Mot de passe")) }
        form method="post" action="/settings/password" id="password-form" {
            (ctx.csrf_field())
            (input("current_password", lang.pick("Current password", "Mot de passe actuel"), "password", "", "current-password", refusals))
            (input("new_password", lang.pick("New password (12 characters or more)", "Nouveau mot de passe (12 caractères ou plus)"), "password", "", "new-password", refusals))
            button type="submit" { (lang.pick("Change the password", "Changer le mot de passe")) }
        }
    };
    layout(lang, t(lang, Text::Settings), site, Some(ctx), body)
}
