//! One account's page (maud, escaped): its role, active state and last day, and the password
//! reset, with each refused field's message next to it.

use maud::{Markup, html};

use super::EditForm;
use crate::web::accounts::html::role_options;
use crate::web::accounts::view::AccountRow;
use crate::web::form::{Refusals, input, select};
use crate::web::i18n::{Text, t};
use crate::web::page::{Ctx, layout};
use crate::web::state::AppState;

pub(super) fn edit_html(
    ctx: &Ctx,
    app: &AppState,
    a: &AccountRow,
    form: &EditForm,
    refusals: &Refusals,
    done: Option<&str>,
) -> Markup {
    let lang = ctx.lang;
    let role = form.role.as_deref().unwrap_or(a.role);
    let active = form.active.clone().unwrap_or_else(|| a.active.to_string());
    let until = form
        .active_until
        .clone()
        .unwrap_or_else(|| a.active_until.clone().unwrap_or_default());
    let body = html! {
        p { a href="/accounts" { "← " (t(lang, Text::Accounts)) } }
        h1 { (a.display_name) " (" (a.username) ")" }
        @if let Some(done) = done { p class="ok" role="status" { (done) } }
        form method="post" action={"/accounts/" (a.username)} id="edit-account" {
            (ctx.csrf_field())
            (select("role", lang.pick("Role", "Rôle"), &role_options(lang), role, refusals))
            (select("active", lang.pick("Active", "Actif"), &[("true", lang.pick("Active", "Actif")), ("false", lang.pick("Deactivated", "Désactivé"))], &active, refusals))
            (input("active_until", lang.pick("Active until (last day, optional)", "Actif jusqu'au (dernier jour, facultatif)"), "date", &until, "off", refusals))
            button type="submit" { (lang.pick("Save", "Enregistrer")) }
        }
        h2 { (lang.pick("Reset the password", "Réinitialiser le mot de passe")) }
        form method="post" action={"/accounts/" (a.username) "/password"} id="reset-password" {
            (ctx.csrf_field())
            (input("password", lang.pick("New password (12 characters or more)", "Nouveau mot de passe (12 caractères ou plus)"), "password", "", "new-password", refusals))
            button type="submit" { (lang.pick("Reset the password", "Réinitialiser le mot de passe")) }
        }
    };
    layout(lang, &a.username, &app.inner.site_name, Some(ctx), body)
}
