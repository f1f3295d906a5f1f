//! A login attempt from start to end: the address's rate limit, the account's lookup, the
//! password's check (against a dummy hash when the username is unknown, so the response time
//! does not tell which usernames exist), the account's state, and the limiter's record of the
//! outcome. Owns that order; never opens a session (`sessions::Sessions::open` does, with the
//! account returned) and never reads a clock (`now` and `now_ms` are passed).
//!
//! Hashing takes tens of milliseconds on a Pi: call it from a blocking task
//! (`tokio::task::spawn_blocking`), with a read-only connection (`store::open_reader`).

use std::net::IpAddr;

use rusqlite::Connection;
use tokio::time::Instant;

use super::password;
use super::ratelimit::{LoginLimiter, Wait};
use crate::store::StoreError;
use crate::store::accounts::{self, Account};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many failures from this address: nothing was checked.
    #[error(transparent)]
    Wait(#[from] Wait),
    /// Unknown username or wrong password (one message for both).
    #[error("unknown username or wrong password")]
    Invalid { delay: Option<Wait> },
    /// The right password, but the account is deactivated or past its end date.
    #[error("this account is deactivated or expired: ask an installer")]
    Inactive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `username` and `password` from `ip`; the account on success.
pub fn login(
    conn: &Connection,
    limiter: &LoginLimiter,
    ip: IpAddr,
    username: &str,
    password: &str,
    now: Instant,
    now_ms: i64,
) -> Result<Account, LoginError> {
    limiter.check(ip, now)?;
    let account = accounts::by_username(conn, username.trim())?;
    let hash = account
        .as_ref()
        .map_or(password::dummy_hash(), |a| a.password_hash.as_str());
    let matches = password::verify(password, hash);
    match account {
        Some(a) if matches => {
            limiter.succeeded(ip);
            if a.may_log_in(now_ms) {
                Ok(a)
            } else {
                Err(LoginError::Inactive)
            }
        }
        _ => Err(LoginError::Invalid {
            delay: limiter.failed(ip, now),
        }),
    }
}
