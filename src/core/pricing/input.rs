//! The JSON form of a session to price (the quote tool's `--session`): start, optional stop,
//! who charges where, and the samples. Owns that shape and its validation into a `CostInput`;
//! never prices.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::cost::{CostInput, CostSample};
use super::promotion::Party;
use super::wire::WireNumber;
use crate::core::session::Phase;
use crate::problems::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireSession {
    /// RFC 3339.
    pub started_at: String,
    #[serde(default)]
    pub stopped_at: Option<String>,
    #[serde(default)]
    pub socket: String,
    #[serde(default)]
    pub communities: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
    pub samples: Vec<WireSample>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireSample {
    pub at: String,
    /// Cumulative since the start of the session.
    pub energy_wh: WireNumber,
    /// charging, suspended, idle or lost: the phase from this sample on.
    pub phase: String,
}

/// Parses a session for pricing in the site's time zone.
pub fn parse_session(json: &str, time_zone: Tz) -> Result<CostInput, Problems> {
    let w: WireSession = serde_json::from_str(json).map_err(|e| {
        let mut p = Problems::new();
        p.push("", format!("not a session: {e}"));
        p
    })?;
    let mut p = Problems::new();
    let time = |s: &str, key: &str, p: &mut Problems| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| p.push(key, format!("{s:?} is not an RFC 3339 time")))
            .ok()
    };
    let started_at = time(&w.started_at, "started_at", &mut p);
    let stopped_at = w
        .stopped_at
        .as_ref()
        .and_then(|s| time(s, "stopped_at", &mut p));
    let mut samples = Vec::with_capacity(w.samples.len());
    for (i, s) in w.samples.iter().enumerate() {
        let at = time(&s.at, &format!("samples[{i}].at"), &mut p);
        let energy_wh = s
            .energy_wh
            .decimal(&format!("samples[{i}].energy_wh"), &mut p);
        let phase = phase(&s.phase)
            .map_err(|m| p.push(format!("samples[{i}].phase"), m))
            .ok();
        if let (Some(at), Some(energy_wh), Some(phase)) = (at, energy_wh, phase) {
            samples.push(CostSample {
                at,
                energy_wh,
                phase,
            });
        }
    }
    match started_at {
        Some(started_at) if p.is_empty() => Ok(CostInput {
            time_zone,
            started_at,
            samples,
            stopped_at,
            party: Party {
                socket: w.socket,
                communities: w.communities,
                user: w.user,
            },
        }),
        _ => Err(p),
    }
}

fn phase(name: &str) -> Result<Phase, String> {
    [Phase::Charging, Phase::Suspended, Phase::Idle, Phase::Lost]
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| format!("{name:?} is not a phase (charging, suspended, idle, lost)"))
}
