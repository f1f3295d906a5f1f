//! The sign-in and setup forms (maud, escaped), with the refusal above the fields.

use maud::{Markup, html};

use crate::web::i18n::{Lang, Text, t};
use crate::web::page::layout;

fn form_page(
    lang: Lang,
    site: &str,
    title: &str,
    action: &str,
    error: Option<&str>,
    fields: Markup,
) -> Markup {
    layout(
        lang,
        title,
        site,
        None,
        html! {
            h1 { (title) }
            @if let Some(e) = error { p class="error" role="alert" { (e) } }
            form method="post" action=(action) { (fields) button type="submit" { (title) } }
        },
    )
}

pub(super) fn login_form(lang: Lang, site: &str, error: Option<&str>) -> Markup {
    form_page(
        lang,
        site,
        t(lang, Text::SignIn),
        "/login",
        error,
        html! {
            label for="username" { (t(lang, Text::Username)) }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { (t(lang, Text::Password)) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
        },
    )
}

pub(super) fn setup_form(lang: Lang, site: &str, error: Option<&str>) -> Markup {
    form_page(
        lang,
        site,
        "Set up",
        "/setup",
        error,
        html! {
            p { "Enter the one-time setup code from the journal (journalctl -u sitegate) and create the first installer account." }
            label for="code" { "Setup code" }
            input id="code" name="code" autocomplete="off" required;
            label for="username" { (t(lang, Text::Username)) }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { (t(lang, Text::Password)) " (12+)" }
            input id="password" name="password" type="password" autocomplete="new-password" required minlength="12";
        },
    )
}
