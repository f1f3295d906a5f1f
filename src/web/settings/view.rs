//! The signed-in account's settings as the page and the API show them.

use serde::Serialize;

use crate::store::accounts::Language;
use crate::web::page::Ctx;

/// The account's settings as the page shows them and the API serialises them.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub username: String,
    pub role: &'static str,
    /// `en`, `fr`; `None`: the browser's.
    pub language: Option<&'static str>,
    /// The language pages are shown in now.
    pub shown_in: &'static str,
}

pub(super) fn settings(ctx: &Ctx) -> Settings {
    Settings {
        username: ctx.session.username.clone(),
        role: ctx.session.role.as_str(),
        language: ctx.session.language.map(Language::as_str),
        shown_in: ctx.lang.code(),
    }
}
