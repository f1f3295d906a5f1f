//! One simulated unit: a device model, its socket's physics, its simulated clock, its injected
//! faults, its counters, and the ground-truth events of its changes.
//!
//! Owns the order of things for one unit: a request passes the fault injection, then the model,
//! then the physics is recomputed and every change is recorded; time advances in steps cut at
//! the model's timers and at the instant the vehicle becomes full, so results are exact whatever
//! the tick. Never touches a transport, never sleeps: callers hold its lock only briefly.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::command::Command;
use crate::error::SimError;
use crate::models::{Built, Device, Model, RelayChannel};
use crate::pdu::{self, Exception};
use crate::physics::Socket;
use crate::rng::SplitMix64;
use crate::truth::{Change, EventSink, Iec61851, SetpointSource, Truth, Vehicle};

/// A fault injected for the next `left` requests (`None`: until cleared).
#[derive(Debug, Clone, Copy)]
struct Budget<T> {
    value: T,
    left: Option<u32>,
}

impl<T> Budget<T> {
    fn new(value: T, count: Option<u32>) -> Option<Self> {
        Some(Budget {
            value,
            left: count.filter(|&n| n > 0),
        })
    }
}

/// Takes one use of an injected fault.
fn take<T: Copy>(slot: &mut Option<Budget<T>>) -> Option<T> {
    let b = slot.as_mut()?;
    let v = b.value;
    if let Some(n) = &mut b.left {
        *n -= 1;
        if *n == 0 {
            *slot = None;
        }
    }
    Some(v)
}

#[derive(Debug, Default)]
struct Injected {
    slow: Option<Budget<u64>>,
    silence: Option<Budget<()>>,
    garbage: Option<Budget<bool>>,
    bad_crc: Option<Budget<()>>,
    exception: Option<Budget<u8>>,
}

/// What the transport must send for one request.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    /// The response PDU; `None`: silence.
    pub pdu: Option<Vec<u8>>,
    /// Extra delay before answering (the `slow` fault).
    pub delay: Duration,
    /// Random bytes to send instead of the response (`false`) or before it (`true`).
    pub garbage: Option<(Vec<u8>, bool)>,
    /// RTU: corrupt the CRC.
    pub bad_crc: bool,
}

/// Everything of a unit but its device model (so a model can borrow it mutably).
pub(crate) struct Core {
    pub bus: Arc<str>,
    pub id: u8,
    pub model: Model,
    pub serial: String,
    /// Simulated time of this unit.
    pub clock: Duration,
    pub frozen: bool,
    pub socket: Option<Socket>,
    /// SDM630: the relay channel switching the socket.
    pub link: Option<Arc<RelayChannel>>,
    pub setpoint_writes: u64,
    pub received: u64,
    pub served: u64,
    injected: Injected,
    rng: SplitMix64,
    events: Arc<EventSink>,
    last: Option<Snapshot>,
}

/// The observable state compared before and after every step, to record changes.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    plugged: bool,
    vehicle: Option<Vehicle>,
    state: Option<Iec61851>,
    enabled: bool,
    relays: Vec<bool>,
    setpoint: Option<(f64, SetpointSource)>,
    offered: f64,
    current: f64,
    phases: u8,
    power: f64,
    energy: f64,
    fault: u16,
    frozen: bool,
}

pub(crate) struct Unit {
    pub core: Core,
    device: Box<dyn Device>,
}

impl Unit {
    pub fn new(
        built: Built,
        bus: Arc<str>,
        events: Arc<EventSink>,
        frozen: bool,
        link: Option<Arc<RelayChannel>>,
    ) -> Unit {
        let seed = crate::rng::fnv1a(&bus) ^ u64::from(built.unit);
        let mut unit = Unit {
            core: Core {
                bus,
                id: built.unit,
                model: built.model,
                serial: built.serial,
                clock: Duration::ZERO,
                frozen,
                socket: built.socket,
                link,
                setpoint_writes: 0,
                received: 0,
                served: 0,
                injected: Injected::default(),
                rng: SplitMix64::new(seed),
                events,
                last: None,
            },
            device: built.device,
        };
        unit.refresh();
        unit
    }

    pub fn has_socket(&self) -> bool {
        self.core.socket.is_some()
    }

    pub fn plugged(&self) -> bool {
        self.core
            .socket
            .as_ref()
            .is_some_and(|s| s.vehicle.is_some())
    }

    fn emit(&self, change: Change) {
        let c = &self.core;
        c.events
            .emit(&c.bus, c.id, c.clock.as_millis() as u64, change);
    }

    fn energy_register_wh(&self) -> f64 {
        self.core.socket.as_ref().map_or(0.0, |s| {
            if self.device.energy_is_session() {
                s.session_register_wh
            } else {
                s.meter_total_wh()
            }
        })
    }

    fn fault(&self) -> u16 {
        let socket_fault = self.core.socket.as_ref().map_or(0, |s| s.fault);
        if socket_fault != 0 {
            socket_fault
        } else {
            self.device.error_code(&self.core)
        }
    }

    fn snapshot(&self) -> Snapshot {
        let s = self.core.socket.as_ref();
        Snapshot {
            plugged: self.plugged(),
            vehicle: s
                .and_then(|s| s.vehicle)
                .map(|v| Vehicle { wants_wh: 0.0, ..v }),
            state: s.map(|s| s.state),
            enabled: s.is_some_and(|s| s.offer.offered_a() > 0.0),
            relays: self.device.relays(),
            setpoint: self.device.setpoint(&self.core),
            offered: s.map_or(0.0, |s| s.offer.offered_a()),
            current: s.map_or(0.0, |s| s.current_a),
            phases: s.map_or(0, |s| s.phases_in_use),
            power: s.map_or(0.0, |s| s.power_w),
            energy: self.energy_register_wh(),
            fault: self.fault(),
            frozen: self.core.frozen,
        }
    }

    /// Recomputes the physics from the device's registers (no time passes) and records what
    /// changed.
    pub fn refresh(&mut self) {
        let offer = self.device.offer(&self.core);
        if let Some(s) = &mut self.core.socket {
            s.update(offer);
            if let Some(link) = &self.core.link {
                link.plug.store(s.vehicle.is_some(), Ordering::SeqCst);
            }
        }
        let now = self.snapshot();
        let Some(before) = self.core.last.replace(now.clone()) else {
            return;
        };
        if now.plugged != before.plugged {
            let vehicle = self.core.socket.as_ref().and_then(|s| s.vehicle);
            self.emit(Change::Plugged {
                plugged: now.plugged,
                vehicle,
            });
        }
        if now.state != before.state {
            self.emit(Change::State { state: now.state });
        }
        if now.enabled != before.enabled {
            self.emit(Change::Enabled {
                enabled: now.enabled,
            });
        }
        for (channel, (&a, &b)) in now.relays.iter().zip(&before.relays).enumerate() {
            if a != b {
                self.emit(Change::Relay {
                    channel: channel as u16,
                    closed: a,
                });
            }
        }
        if now.setpoint != before.setpoint {
            self.emit(Change::Setpoint {
                amps: now.setpoint.map(|s| s.0),
                source: now.setpoint.map(|s| s.1),
            });
        }
        if now.offered != before.offered {
            self.emit(Change::Offered { amps: now.offered });
        }
        if (now.current, now.phases) != (before.current, before.phases) {
            self.emit(Change::Current {
                amps: now.current,
                phases: now.phases,
            });
        }
        if now.power != before.power {
            self.emit(Change::Power { w: now.power });
        }
        if now.energy.floor() != before.energy.floor() || now.energy < before.energy {
            self.emit(Change::Energy { wh: now.energy });
        }
        if now.fault != before.fault {
            self.emit(Change::Fault { code: now.fault });
        }
        if now.frozen != before.frozen {
            self.emit(Change::Frozen { frozen: now.frozen });
        }
    }

    /// Advances the unit's clock by `dt`, integrating energy and firing timers at their exact
    /// times.
    pub fn advance(&mut self, dt: Duration) {
        let end = self.core.clock + dt;
        // A bound against a model whose timer never clears: then the rest goes in one step.
        for _ in 0..10_000 {
            if self.core.clock >= end {
                return;
            }
            let mut step_end = end;
            if let Some(t) = self.device.next_timer(&self.core)
                && t > self.core.clock
                && t < step_end
            {
                step_end = t;
            }
            if let Some(ttf) = self.core.socket.as_ref().and_then(Socket::time_to_full) {
                step_end = step_end.min(self.core.clock + ttf.max(Duration::from_nanos(1)));
            }
            let step = step_end - self.core.clock;
            if let Some(s) = &mut self.core.socket {
                s.integrate(step);
            }
            self.core.clock = step_end;
            self.device.on_time(&mut self.core);
            self.refresh();
        }
        if let Some(s) = &mut self.core.socket {
            s.integrate(end.saturating_sub(self.core.clock));
        }
        self.core.clock = self.core.clock.max(end);
        self.refresh();
    }

    /// Answers one request PDU addressed to this unit.
    pub fn handle(&mut self, request: &[u8]) -> Answer {
        self.core.received += 1;
        let inj = &mut self.core.injected;
        if take(&mut inj.silence).is_some() {
            return Answer::default();
        }
        let delay = Duration::from_millis(take(&mut inj.slow).unwrap_or(0));
        let injected_exception = take(&mut inj.exception);
        let garbage = take(&mut inj.garbage);
        let bad_crc = take(&mut inj.bad_crc).is_some();
        let function = pdu::function_of(request);
        let (response, normal) = match injected_exception {
            Some(code) => (pdu::exception(function, Exception(code)), false),
            None => match pdu::parse(request).and_then(|r| self.device.serve(&mut self.core, &r)) {
                Ok(resp) => (pdu::encode(&resp), true),
                Err(e) => (pdu::exception(function, e), false),
            },
        };
        self.refresh();
        let garbage = garbage.map(|prefix| {
            let n = self.core.rng.range(5, 12) as usize;
            (self.core.rng.bytes(n), prefix)
        });
        if normal && garbage.is_none() && !bad_crc {
            self.core.served += 1;
        }
        Answer {
            pdu: Some(response),
            delay,
            garbage,
            bad_crc,
        }
    }

    /// Applies a broadcast (unit 0) write; never answered.
    pub fn broadcast(&mut self, request: &[u8]) {
        self.core.received += 1;
        if let Ok(r) = pdu::parse(request)
            && r.is_write()
        {
            let _ = self.device.serve(&mut self.core, &r);
            self.refresh();
        }
    }

    fn socket(&mut self) -> Result<&mut Socket, SimError> {
        let c = &mut self.core;
        let (bus, unit, model) = (c.bus.to_string(), c.id, c.model.to_string());
        c.socket.as_mut().ok_or(SimError::NoSocket {
            bus,
            unit,
            model,
            hint: "address the socket unit (an SDM630 meters a relay-switched socket; Alfen sockets are units 1..n)",
        })
    }

    fn vehicle(&mut self) -> Result<&mut Vehicle, SimError> {
        self.socket()?
            .vehicle
            .as_mut()
            .ok_or_else(|| SimError::InvalidState("no vehicle plugged".into()))
    }

    /// Applies one control command (bus-wide commands are the bus's business). The log gets
    /// the command, then its effects; a refused command leaves no trace.
    pub fn command(&mut self, cmd: &Command) -> Result<(), SimError> {
        let record = |unit: &Unit| {
            unit.emit(Change::Command {
                command: cmd.clone(),
            })
        };
        if let Command::Advance { ms } = *cmd {
            record(self);
            self.advance(Duration::from_millis(ms));
            return Ok(());
        }
        self.apply(cmd)?;
        record(self);
        self.refresh();
        Ok(())
    }

    /// The state change of a command, without recording it.
    fn apply(&mut self, cmd: &Command) -> Result<(), SimError> {
        let inj = &mut self.core.injected;
        match *cmd {
            Command::Plug {
                vehicle_max_a,
                phases,
                wants_wh,
            } => {
                if !(phases == 1 || phases == 3) || vehicle_max_a <= 0.0 || wants_wh < 0.0 {
                    return Err(SimError::InvalidState(format!(
                        "plug: phases {phases} (1 or 3), vehicle_max_a {vehicle_max_a} (> 0), wants_wh {wants_wh} (>= 0)"
                    )));
                }
                let s = self.socket()?;
                if s.vehicle.is_some() {
                    return Err(SimError::InvalidState(
                        "a vehicle is plugged already".into(),
                    ));
                }
                s.vehicle = Some(Vehicle {
                    max_a: vehicle_max_a,
                    phases,
                    wants_wh,
                    full: wants_wh <= 0.0,
                });
                s.session_wh = 0.0;
                s.session_register_wh = 0.0;
                s.charged_in_session = false;
                s.forced_power_w = None;
                self.device.on_plug(&mut self.core);
            }
            Command::Unplug => {
                self.vehicle()?;
                let s = self.socket()?;
                s.vehicle = None;
                s.forced_power_w = None;
            }
            Command::EvFull => {
                let v = self.vehicle()?;
                v.wants_wh = 0.0;
                v.full = true;
                self.socket()?.forced_power_w = None;
            }
            Command::Fault { code } => {
                if code == 0 {
                    return Err(SimError::InvalidState("fault code 0 means no fault".into()));
                }
                let s = self.socket()?;
                s.fault = code;
                s.forced_power_w = None;
            }
            Command::ClearFault => self.socket()?.fault = 0,
            Command::MeterReset => {
                let s = self.socket()?;
                // The registers restart; the energy delivered (the truth) does not.
                s.meter_wh = [0.0; 3];
                s.session_register_wh = 0.0;
            }
            Command::SetEnergy { wh } => {
                let session = self.device.energy_is_session();
                let s = self.socket()?;
                if session {
                    s.session_register_wh = wh;
                } else {
                    s.set_meter_total(wh);
                }
            }
            Command::SetPower { w } => {
                if !self.core.frozen {
                    return Err(SimError::InvalidState(
                        "set_power needs a frozen unit".into(),
                    ));
                }
                self.socket()?.forced_power_w = Some(w);
            }
            Command::Slow { ms, count } => inj.slow = Budget::new(ms, count),
            Command::Silence { count } => inj.silence = Budget::new((), count),
            Command::Garbage { count, prefix } => inj.garbage = Budget::new(prefix, count),
            Command::BadCrc { count } => inj.bad_crc = Budget::new((), count),
            Command::Exception { code, count } => inj.exception = Budget::new(code, count),
            Command::ClearFaultsInjected => *inj = Injected::default(),
            Command::DropConnections => {}
            Command::Freeze => self.core.frozen = true,
            Command::Unfreeze => {
                self.core.frozen = false;
                if let Some(s) = &mut self.core.socket {
                    s.forced_power_w = None;
                }
            }
            Command::Advance { .. } => unreachable!("applied by `command`"),
        }
        Ok(())
    }

    pub fn truth(&self) -> Truth {
        let c = &self.core;
        let s = c.socket.as_ref();
        let setpoint = self.device.setpoint(c);
        Truth {
            bus: c.bus.to_string(),
            unit: c.id,
            model: c.model,
            serial: c.serial.clone(),
            clock_ms: c.clock.as_millis() as u64,
            frozen: c.frozen,
            plugged: self.plugged(),
            vehicle: s.and_then(|s| s.vehicle),
            state: s.map(|s| s.state),
            enabled: s.is_some_and(|s| s.offer.offered_a() > 0.0),
            relays: self.device.relays(),
            setpoint_a: setpoint.map(|s| s.0),
            setpoint_source: setpoint.map(|s| s.1),
            offered_a: s.map_or(0.0, |s| s.offer.offered_a()),
            current_a: s.map_or(0.0, |s| s.current_a),
            phases: s.map_or(0, |s| s.phases_in_use),
            power_w: s.map_or(0.0, |s| s.power_w),
            energy_wh: self.energy_register_wh(),
            session_wh: s.map_or(0.0, |s| s.session_wh),
            meter_wh: s.map_or(0.0, Socket::meter_total_wh),
            voltages_v: s.map_or([None; 3], Socket::voltages),
            currents_a: s.map_or([None; 3], Socket::currents),
            fault: self.fault(),
            requests_received: c.received,
            requests_served: c.served,
            setpoint_writes: c.setpoint_writes,
        }
    }
}
