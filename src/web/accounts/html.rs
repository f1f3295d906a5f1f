//! The accounts pages' HTML (maud, escaped): the list and the create form, with each refused
//! field's message next to it; the role and language choices the forms share.

use maud::{Markup, html};

use super::CreateForm;
use super::view::AccountRow;
use crate::web::form::{Refusals, input, select};
use crate::web::i18n::{Lang, Text, t};
use crate::web::page::{Ctx, layout};
use crate::web::state::AppState;

/// The list, and the create form as sent with its refusals.
pub(super) fn list_html(
    ctx: &Ctx,
    app: &AppState,
    rows: &[AccountRow],
    form: &CreateForm,
    refusals: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let yes_no = |b: bool| {
        if b {
            lang.pick("yes", "oui")
        } else {
            lang.pick("no", "non")
        }
    };
    let body = html! {
        h1 { (t(lang, Text::Accounts)) }
        div class="table-wrap" {
            table id="accounts" {
                thead { tr {
                    th scope="col" { (t(lang, Text::Username)) }
                    th scope="col" { (lang.pick("Name", "Nom")) }
                    th scope="col" { (lang.pick("Role", "Rôle")) }
                    th scope="col" { (lang.pick("Active", "Actif")) }
                    th scope="col" { (lang.pick("Active until", "Actif jusqu'au")) }
                    th scope="col" { (lang.pick("Language", "Langue")) }
                    th scope="col" { (lang.pick("Last change", "Dernière modification")) }
                } }
                tbody {
                    @for a in rows {
                        tr {
                            td { a href={"/accounts/" (a.username)} { (a.username) } }
                            td { (a.display_name) }
                            td { (a.role) }
                            td { (yes_no(a.may_sign_in)) }
                            td { (a.active_until.as_deref().unwrap_or("–")) }
                            td { (a.language.unwrap_or("–")) }
                            td { (a.last_change) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("New account", "Nouveau compte")) }
        form method="post" action="/accounts" id="create-account" {
            (ctx.csrf_field())
            (input("username", t(lang, Text::Username), "text", &form.username, "off", refusals))
            (input("display_name", lang.pick("Name shown", "Nom affiché"), "text", &form.display_name, "off", refusals))
            (select("role", lang.pick("Role", "Rôle"), &role_options(lang), if form.role.is_empty() { "viewer" } else { &form.role }, refusals))
            (input("password", lang.pick("Password (12 characters or more)", "Mot de passe (12 caractères ou plus)"), "password", "", "new-password", refusals))
            (input("active_until", lang.pick("Active until (last day, optional)", "Actif jusqu'au (dernier jour, facultatif)"), "date", &form.active_until, "off", refusals))
            (select("language", lang.pick("Language", "Langue"), &language_options(lang), &form.language, refusals))
            button type="submit" { (lang.pick("Create the account", "Créer le compte")) }
        }
    };
    layout(
        lang,
        t(lang, Text::Accounts),
        &app.inner.site_name,
        Some(ctx),
        body,
    )
}

pub(super) fn role_options(lang: Lang) -> [(&'static str, &'static str); 3] {
    [
        (
            "viewer",
            lang.pick("Viewer (read only)", "Lecteur (lecture seule)"),
        ),
        ("manager", lang.pick("Manager", "Gestionnaire")),
        (
            "installer",
            lang.pick("Installer (everything)", "Installateur (tout)"),
        ),
    ]
}

fn language_options(lang: Lang) -> [(&'static str, &'static str); 3] {
    [
        ("", lang.pick("The browser's", "Celle du navigateur")),
        ("en", "English"),
        ("fr", "Français"),
    ]
}
