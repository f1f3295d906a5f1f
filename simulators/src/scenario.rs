//! The demo's scenario loop: a deterministic life on every simulated socket.
//!
//! Owns the choreography: every socket unit gets its own pseudo-random stream derived from the
//! seed, its bus and its unit id, and acts every 10-90 s of tokio time: plug a vehicle in
//! (10-32 A, 1 or 3 phases, 2-30 kWh wanted), make it full, unplug it, raise a fault and clear
//! it at the next step, reset the meter now and then. Each step draws the same number of values
//! whatever the state, so the sequence of draws never depends on what sitegate did meanwhile.
//! Never touches devices directly: it sends control commands like any test, so the ground
//! truth records them.

use std::sync::Arc;
use std::time::Duration;

use crate::command::Command;
use crate::rng::{SplitMix64, fnv1a};
use crate::sim::Shared;

struct Actor {
    bus: String,
    unit: u8,
    rng: SplitMix64,
    next: Duration,
}

pub(crate) async fn run(shared: Arc<Shared>, seed: u64) {
    let mut actors: Vec<Actor> = shared
        .units()
        .into_iter()
        .filter(|(bus, unit)| shared.has_socket(bus, *unit))
        .map(|(bus, unit)| {
            let mut rng =
                SplitMix64::new(seed ^ fnv1a(&bus).rotate_left(17) ^ (u64::from(unit) << 40));
            let next = Duration::from_secs(rng.range(2, 20));
            Actor {
                bus,
                unit,
                rng,
                next,
            }
        })
        .collect();
    if actors.is_empty() {
        return;
    }
    let start = tokio::time::Instant::now();
    loop {
        let next = actors.iter().map(|a| a.next).min().unwrap_or_default();
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            () = tokio::time::sleep_until(start + next) => {}
        }
        for a in actors.iter_mut().filter(|a| a.next <= next) {
            if let Some(cmd) = step(&shared, a)
                && let Err(e) = shared.control(&a.bus, a.unit, &cmd)
            {
                log::debug!("scenario {}/{}: {cmd:?}: {e}", a.bus, a.unit);
            }
            if a.rng.chance(3) {
                let _ = shared.control(&a.bus, a.unit, &Command::MeterReset);
            }
            a.next += Duration::from_secs(a.rng.range(10, 90));
        }
    }
}

/// One decision. Draws exactly four values whatever happens.
fn step(shared: &Shared, a: &mut Actor) -> Option<Command> {
    let roll = a.rng.range(0, 99);
    let max_a = a.rng.pick(&[10.0, 16.0, 20.0, 32.0]);
    let phases = a.rng.pick(&[1u8, 3, 3]);
    let wants_wh = a.rng.range(2_000, 30_000) as f64;
    let t = shared.truth(&a.bus, a.unit)?;
    Some(match t.vehicle {
        _ if t.fault != 0 => Command::ClearFault,
        None if roll < 70 => Command::Plug {
            vehicle_max_a: max_a,
            phases,
            wants_wh,
        },
        None => return None,
        Some(v) if v.full && roll < 60 => Command::Unplug,
        Some(v) if v.full => return None,
        Some(_) if roll < 8 => Command::Fault {
            code: fault_code(roll),
        },
        Some(_) if roll < 20 => Command::EvFull,
        Some(_) if roll < 30 => Command::Unplug,
        Some(_) => return None,
    })
}

/// generic-socket's fault codes 1..=5.
fn fault_code(roll: u64) -> u16 {
    1 + (roll % 5) as u16
}
