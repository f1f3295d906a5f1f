//! `web::auth`: local accounts' authentication core, for the web server to call. Owns the
//! password policy and hashing (`password`), a login attempt in order (`login`), login
//! sessions and their cookie (`sessions`), CSRF token checks (`csrf`), the per-address login
//! rate limit (`ratelimit`), the first start's one-time setup code (`setup`), roles and what
//! each may do (`roles`), and the `sitegate account` command (`cli`).
//!
//! Never reads a clock (time is passed in), never opens the database (accounts are read with
//! `store::accounts` and changed through the store's writer with `Write::Account`), and never
//! speaks HTTP.

pub mod cli;
pub mod csrf;
pub mod login;
pub mod password;
pub mod ratelimit;
pub mod roles;
pub mod sessions;
pub mod setup;

pub use roles::{Action, Role, can};
