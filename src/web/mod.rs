//! The local web page (issue 6): installers commission the site, managers watch it. HTTPS only
//! (`server`, `cert`), server-rendered HTML (`pages`, maud) with live updates by Server-Sent
//! Events, a JSON API under `/api/v1` sharing the pages' data (`dashboard`, `routes`), English
//! and French (`i18n`). Reads the daemon's live state and read-only database connections
//! (`state`); never writes SQLite itself. Accounts, sessions, CSRF and login limits: `auth`.

mod access;
pub mod accounts;
pub mod auth;
pub mod cert;
pub mod dashboard;
mod error;
mod form;
pub mod i18n;
mod input;
pub mod installer;
pub mod installer_tools;
mod login;
pub mod metrics;
pub mod openapi;
pub mod page;
mod pages;
pub mod reload;
pub mod routes;
pub mod server;
mod sessions;
pub mod settings;
pub mod socket;
pub mod state;
pub mod system;
#[cfg(test)]
mod tests;

pub use server::{ClientAddr, ServeError, Web};
pub use state::{AppState, Parts};
