//! The local web page (issue 6): installers commission the site, managers watch it. HTTPS only
//! (`server`, `cert`), server-rendered HTML (`pages`, maud) with live updates by Server-Sent
//! Events, a JSON API under `/api/v1` sharing the pages' data (`dashboard`, `routes`), English
//! and French (`i18n`). Reads the daemon's live state and read-only database connections
//! (`state`); never writes SQLite itself. Accounts, sessions, CSRF and login limits: `auth`.

pub mod auth;
pub mod cert;
pub mod dashboard;
pub mod i18n;
pub mod installer_tools;
mod login;
pub mod openapi;
pub mod page;
mod pages;
pub mod routes;
pub mod server;
pub mod state;

pub use server::{ClientAddr, Web, WebError};
pub use state::{AppState, Parts};
