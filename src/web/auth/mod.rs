//! `web::auth`: local accounts' authentication core, for the web server to call. Owns the
//! password policy and hashing (`password`), the bound on hashes running at once (`hashing`), a login attempt in order (`login`), login
//! sessions and their cookie (`sessions`), CSRF token checks (`csrf`), the per-address login
//! rate limit (`ratelimit`), the first start's one-time setup code (`setup`), and the `sitegate account`
//! command (`cli`). Roles and what each may do are the accounts domain's (`store::roles`).
//!
//! Never reads a clock (time is passed in), never opens the database (accounts are read with
//! `store::accounts` and changed through the store's writer with `Write::Account`), and never
//! speaks HTTP.

pub mod cli;
pub mod csrf;
pub mod hashing;
pub mod login;
pub mod password;
pub mod ratelimit;
pub mod sessions;
pub mod setup;
