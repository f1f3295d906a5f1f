//! A charging session as the core keeps it: identity, times, meter and accumulated energy,
//! charging and idle time, why it stopped, whether it failed. Pure; the session lifecycle that
//! drives it is in `site`.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use super::time::Stamp;

/// How the identity of a session was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The socket is free to use: anonymous.
    Free,
    LocalList,
    Cache,
    Central,
    /// Started by central (remote start).
    Remote,
    /// Started by a manager on the local web page.
    Manager,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Free => "free",
            AuthMethod::LocalList => "local_list",
            AuthMethod::Cache => "cache",
            AuthMethod::Central => "central",
            AuthMethod::Remote => "remote",
            AuthMethod::Manager => "manager",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Free,
            Self::LocalList,
            Self::Cache,
            Self::Central,
            Self::Remote,
            Self::Manager,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// Why a session ended (OCPP's reasons where they exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The vehicle was unplugged (OCPP EVDisconnected).
    Unplugged,
    /// Stopped at the site (badge, manager).
    Local,
    Remote,
    CreditExhausted,
    DeAuthorized,
    /// The socket did not answer for longer than the grace period.
    SocketLost,
    /// The daemon found it open after a restart and the vehicle gone.
    PowerLoss,
    Reset,
    Fault,
    /// A manager took the socket out of service.
    OutOfService,
}

impl StopReason {
    pub const ALL: [StopReason; 10] = [
        Self::Unplugged,
        Self::Local,
        Self::Remote,
        Self::CreditExhausted,
        Self::DeAuthorized,
        Self::SocketLost,
        Self::PowerLoss,
        Self::Reset,
        Self::Fault,
        Self::OutOfService,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Unplugged => "unplugged",
            Self::Local => "local",
            Self::Remote => "remote",
            Self::CreditExhausted => "credit_exhausted",
            Self::DeAuthorized => "deauthorized",
            Self::SocketLost => "socket_lost",
            Self::PowerLoss => "power_loss",
            Self::Reset => "reset",
            Self::Fault => "fault",
            Self::OutOfService => "out_of_service",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the socket does during a session, for charging and idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Charging,
    /// Allowed, vehicle draws nothing.
    Suspended,
    /// Plugged, not allowed to draw.
    Idle,
    /// The socket does not answer: time is neither charging nor idle.
    Lost,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Charging => "charging",
            Phase::Suspended => "suspended",
            Phase::Idle => "idle",
            Phase::Lost => "lost",
        }
    }
}

/// Energy from a meter that may reset, roll over or read garbage: it only ever grows, and only
/// by amounts the socket could physically have delivered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterTrack {
    /// Last plausible register value.
    pub last_wh: Option<f64>,
    /// Accumulated energy of the session.
    pub energy_wh: f64,
    /// Readings refused as implausible, or register resets.
    pub anomalies: u32,
}

impl MeterTrack {
    pub fn starting_at(meter_wh: Option<f64>) -> Self {
        MeterTrack {
            last_wh: meter_wh,
            energy_wh: 0.0,
            anomalies: 0,
        }
    }

    /// Takes a new register value. `max_delta_wh` is the most the socket can have delivered
    /// since the last reading. A register that went backwards restarted (meter replaced, a
    /// session counter, a rollover): what it counts since is added when plausible.
    pub fn update(&mut self, meter_wh: Option<f64>, max_delta_wh: f64) {
        let Some(m) = meter_wh.filter(|m| m.is_finite() && *m >= 0.0) else {
            return;
        };
        let Some(last) = self.last_wh else {
            self.last_wh = Some(m);
            return;
        };
        if m >= last {
            let delta = m - last;
            if delta <= max_delta_wh {
                self.energy_wh += delta;
            } else {
                self.anomalies += 1;
            }
        } else {
            self.anomalies += 1;
            if m <= max_delta_wh {
                self.energy_wh += m;
            }
        }
        self.last_wh = Some(m);
    }
}

/// The most energy a socket of `max_current_a` on three phases at 230 V (+10 %) can deliver in
/// `elapsed`, plus a margin for meter resolution.
pub fn max_energy_wh(max_current_a: f64, elapsed: Duration) -> f64 {
    let max_power_w = 3.0 * 253.0 * max_current_a;
    max_power_w * elapsed.as_secs_f64() / 3600.0 * 1.25 + 5.0
}

/// One session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub socket: usize,
    pub identity: Option<String>,
    pub auth: AuthMethod,
    pub started: Stamp,
    pub stopped: Option<Stamp>,
    pub meter_start_wh: Option<f64>,
    pub meter: MeterTrack,
    pub charging: Duration,
    pub idle: Duration,
    pub phase: Phase,
    pub stop_reason: Option<StopReason>,
    pub offline: bool,
    /// Why central should refund: nothing delivered, or a fault ended it.
    pub failed: Option<String>,
    /// Samples written so far (their sequence numbers).
    pub samples: u32,
    /// The badge or app token that started it (to let the same token, or one of its group,
    /// stop it); `None` for free and remote starts.
    pub token: Option<crate::core::access::IdToken>,
    /// The token's group (OCPP parentIdTag).
    pub parent: Option<String>,
    /// The tariff in force at the start; it applies to the whole session.
    pub tariff_id: Option<String>,
    /// The promotion the session got at its start (counted against the promotion's limits).
    pub promotion_id: Option<String>,
    /// The running cost (at the last sample), then the final one.
    pub cost: Option<Cost>,
}

/// A session's cost under its tariff, from `pricing::cost`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub currency: String,
    pub total_excl_tax: rust_decimal::Decimal,
    pub total_incl_tax: rust_decimal::Decimal,
    /// What the cost is made of (`wire` makes its JSON for central and the database).
    pub breakdown: crate::core::pricing::Breakdown,
    /// The site's time zone, in which the breakdown was priced.
    pub time_zone: chrono_tz::Tz,
}

impl Session {
    pub fn energy_wh(&self) -> f64 {
        self.meter.energy_wh
    }

    /// The meter value at the end: the last plausible reading.
    pub fn meter_stop_wh(&self) -> Option<f64> {
        self.stopped.and(self.meter.last_wh)
    }

    /// Adds the time since `since` to the current phase.
    pub fn accrue(&mut self, elapsed: Duration) {
        match self.phase {
            Phase::Charging => self.charging += elapsed,
            Phase::Suspended | Phase::Idle => self.idle += elapsed,
            Phase::Lost => {}
        }
    }
}

/// A meter reading recorded during a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub session: Uuid,
    pub seq: u32,
    pub at: Stamp,
    pub meter_wh: Option<f64>,
    pub energy_wh: f64,
    pub power_w: Option<f64>,
    pub phase: Phase,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_accumulates_across_a_meter_reset() {
        let mut m = MeterTrack::starting_at(Some(1000.0));
        m.update(Some(1500.0), 1000.0);
        m.update(Some(0.0), 1000.0); // meter replaced
        m.update(Some(300.0), 1000.0);
        assert_eq!(m.energy_wh, 800.0);
        assert_eq!(m.anomalies, 1);
    }

    #[test]
    fn unavailable_and_absurd_readings_add_nothing() {
        let mut m = MeterTrack::starting_at(Some(1000.0));
        m.update(None, 1000.0);
        m.update(Some(f64::NAN), 1000.0);
        m.update(Some(-5.0), 1000.0);
        assert_eq!((m.energy_wh, m.last_wh), (0.0, Some(1000.0)));
        m.update(Some(9_000_000.0), 1000.0); // garbage: far more than the socket can deliver
        assert_eq!(m.energy_wh, 0.0);
        m.update(Some(9_000_100.0), 1000.0); // counts on from there
        assert_eq!(m.energy_wh, 100.0);
    }

    #[test]
    fn a_rollover_to_a_large_value_is_not_energy() {
        let mut m = MeterTrack::starting_at(Some(4_294_967_000.0));
        m.update(Some(200.0), 1000.0); // a u32 register rolled over: 296 Wh lost to the wrap
        assert_eq!(m.energy_wh, 200.0);
        m.update(Some(50_000.0), 1000.0); // went backwards? no: forward but absurd
        assert_eq!(m.energy_wh, 200.0);
    }

    #[test]
    fn the_energy_bound_follows_the_socket_rating() {
        // 16 A three-phase for an hour: about 11 kWh (12.1 at 253 V), with margin.
        let wh = max_energy_wh(16.0, Duration::from_secs(3600));
        assert!((15_000.0..=16_000.0).contains(&wh), "{wh}");
    }
}
