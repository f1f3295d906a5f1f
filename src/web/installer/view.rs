//! The installer page's value (`InstallerView`): the buses and sockets the running
//! configuration declares, with each socket's live state and its device's error counters, the
//! configuration's generation and last reload, the profiles a socket may name, and the file's
//! uplink settings (no password). The page and `GET /api/v1/installer` render it.

use serde::Serialize;

use crate::config::edit::{self, UplinkForm};
use crate::web::i18n::{Lang, state_words};
use crate::web::reload::ReloadOutcome;
use crate::web::state::AppState;

/// Everything the installer page shows.
#[derive(Debug, Clone, Serialize)]
pub struct InstallerView {
    /// Whether the configuration file can be edited here (the daemon runs from a file).
    pub editable: bool,
    pub config_file: Option<String>,
    /// 0 at start, one more per applied reload.
    pub generation: u64,
    pub last_reload: Option<ReloadOutcome>,
    pub buses: Vec<BusSockets>,
    /// Profiles a socket may name: the built-in ones and the file's `[profiles]`.
    pub profiles: Vec<String>,
    /// The file's `[uplink]` connection settings (no password); `None` without the section.
    pub uplink: Option<UplinkForm>,
}

/// A bus and the sockets the configuration puts on it.
#[derive(Debug, Clone, Serialize)]
pub struct BusSockets {
    pub name: String,
    /// TCP address, or serial device and settings.
    pub link: String,
    pub sockets: Vec<SocketRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SocketRow {
    pub id: String,
    pub name: String,
    pub serial_number: Option<String>,
    pub uid: Option<String>,
    pub profile: String,
    pub unit_id: u8,
    pub state: &'static str,
    pub words: &'static str,
    pub class: &'static str,
    pub session_running: bool,
    pub failed_polls: u64,
    pub exception_answers: u64,
}

/// Builds the view from the running configuration, the live snapshot and the file (blocking
/// read of the file: small).
pub async fn build(app: &AppState, lang: Lang) -> InstallerView {
    use std::sync::atomic::Ordering::Relaxed;
    let config = app.inner.config.clone();
    let snapshot = app.inner.sockets.borrow().clone();
    let mut buses: Vec<BusSockets> = config
        .buses
        .iter()
        .map(|b| BusSockets {
            name: b.name.clone(),
            link: b.link.to_string(),
            sockets: Vec::new(),
        })
        .collect();
    for (i, s) in config.sockets.iter().enumerate() {
        let live = snapshot.iter().find(|x| x.id == s.id);
        let (state, words, class, session_running) = match live {
            Some(x) => {
                let (words, class) = state_words(lang, &x.view.state);
                (x.view.state.name(), words, class, x.view.session.is_some())
            }
            None => ("NotConnected", "–", "unreachable", false),
        };
        let (failed_polls, exception_answers) = app
            .inner
            .installer_tools
            .device_stats(i)
            .map_or((0, 0), |d| {
                (d.failures.load(Relaxed), d.exceptions.load(Relaxed))
            });
        buses[s.bus].sockets.push(SocketRow {
            id: s.id.clone(),
            name: s.name.clone(),
            serial_number: s.serial_number.clone(),
            uid: s.uid.clone(),
            profile: s.profile.name.clone(),
            unit_id: s.unit_id,
            state,
            words,
            class,
            session_running,
            failed_polls,
            exception_answers,
        });
    }
    let profiles = config
        .profiles
        .names()
        .filter(|n| {
            config
                .profiles
                .get(n)
                .is_some_and(|p| p.kind != crate::profile::DeviceKind::Relay)
        })
        .map(str::to_string)
        .collect();
    let link = app.inner.installer.clone();
    let uplink = match &link {
        Some(l) => {
            let file = l.config_file.clone();
            tokio::task::spawn_blocking(move || file.read().ok())
                .await
                .ok()
                .flatten()
                .and_then(|text| edit::uplink_form(&text))
        }
        None => None,
    };
    let status = link.as_ref().map(|l| l.status.borrow().clone());
    InstallerView {
        editable: link.is_some(),
        config_file: link
            .as_ref()
            .map(|l| l.config_file.path().display().to_string()),
        generation: status.as_ref().map_or(0, |s| s.generation),
        last_reload: status.and_then(|s| s.last),
        buses,
        profiles,
        uplink,
    }
}
