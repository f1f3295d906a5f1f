//! The local web page (issue 6): installers commission the site, managers watch it. HTTPS only
//! (`server`, `cert`), server-rendered HTML (maud) with live updates by Server-Sent Events, a
//! JSON API under `/api/v1` sharing the pages' data, English and French (`i18n`). Reads the
//! daemon's live state and read-only database connections (`state`); never writes SQLite
//! itself. Accounts, sessions, CSRF and login limits: `auth`.
//!
//! One folder per page, each the same shape: `mod.rs` (its routes and handlers: parse, call,
//! render), `view.rs` (the value its HTML and its JSON both render), `html.rs` (maud); a tool
//! with a page of its own is a folder of the same shape inside its page's (`access/explain`,
//! `sessions/statement`, `accounts/edit`), a tool shown on its page's HTML or answering a
//! file a module of the page (`installer_tools::scan`, `sessions::export`,
//! `system::backup`). What every page shares stays here: `routes` (assembles the pages'
//! routers), `guard` (a session, and the CSRF token of every change), `page` (`Ctx`: who
//! asks, the one role check, the answer in the route's kind; the layout), `input` (a form or
//! its API twin's JSON), `error` (`WebError`: every refusal and failure, in kind), `form`
//! (refusals by field, inputs), `openapi`, `assets`.

mod access;
mod accounts;
mod assets;
pub mod auth;
mod cert;
mod dashboard;
mod error;
mod form;
mod guard;
mod i18n;
mod input;
mod installer;
pub(crate) mod installer_tools;
mod login;
mod metrics;
pub mod openapi;
mod page;
pub mod reload;
mod routes;
mod server;
mod sessions;
mod settings;
mod socket;
mod state;
mod system;
#[cfg(test)]
mod tests;

pub use cert::CertError;
pub use server::{ServeError, Web};
pub(crate) use state::{AppState, Parts};
