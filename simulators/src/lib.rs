//! socket-sim: simulated EV-charging sockets, stations and meters that serve real Modbus TCP
//! and Modbus RTU (on PTYs, with RS-485 timing), for sitegate's integration tests, bus
//! benchmarks, `sitegate demo` and CI.
//!
//! Each device is implemented independently from its vendor document
//! (shared/reference/devices.md, docs/generic-socket.md): sitegate's data-driven profiles are
//! tested by decoding what this crate serves and comparing with its ground truth (`Truth`,
//! `TruthEvent`). So this crate never depends on sitegate and shares no code with it.
//!
//! Modules: `models` (one file per device: register maps), `physics` (the socket and its
//! vehicle), `unit` (one unit: model + physics + clock + faults + events), `bus` (units by id),
//! `transport` (TCP, RTU and its timing), `reader` (badge readers on PTYs), `sim` (the handle, tick, log, lifetimes), `scenario`
//! (the demo's deterministic life), `pdu` (Modbus PDU codec), `command` and `truth` (the control
//! and observation vocabulary).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use socket_sim::{Command, Sim, SimOptions, TcpOptions, UnitSpec};
//! let sim = Sim::new(SimOptions::default())?;
//! let spec = UnitSpec::new(200, "alfen-ng9xx".parse().unwrap());
//! let addr = sim.serve_tcp("a", "127.0.0.1:0".parse().unwrap(), vec![spec], TcpOptions::default()).await?;
//! sim.control("a", 1, Command::Plug { vehicle_max_a: 16.0, phases: 3, wants_wh: 20_000.0 }).unwrap();
//! let truth = sim.truth("a", 1).unwrap();
//! # let _ = (addr, truth); Ok(()) }
//! ```

mod bus;
mod command;
mod error;
mod models;
mod pdu;
mod physics;
mod reader;
mod rng;
mod scenario;
mod sim;
mod transport;
mod truth;
mod unit;

pub use command::Command;
pub use error::SimError;
pub use models::{Model, RelayLink, UnitSpec};
pub use physics::MIN_CURRENT_A;
pub use reader::{RDM6300_REPEAT, ReaderCommand, ReaderProtocol};
pub use sim::{Sim, SimOptions};
pub use transport::{RtuOptions, TcpOptions};
pub use truth::{Change, Iec61851, SetpointSource, Truth, TruthEvent, Vehicle};

/// Error code an ABB Terra AC reports after a communication timeout without a fallback limit.
pub const ABB_COMM_TIMEOUT_ERROR: u16 = models::ABB_COMM_TIMEOUT_ERROR;
