//! Transports: Modbus TCP (`tcp`) and Modbus RTU on a PTY (`rtu`, timed by `timing`).
//!
//! Both frame bytes themselves instead of using tokio-modbus 0.17's servers: those spawn
//! untracked tasks per connection (no way to close a connection or to stop them with the
//! simulator), answer every RTU unit id, write the response with their own codec (no garbage or
//! bad CRC on the wire) and keep pipelined requests. Owning the framing makes faults, timing and
//! shutdown exact. Transports never decide answers: they hand PDUs to the `Bus`.

pub(crate) mod rtu;
pub(crate) mod tcp;
pub(crate) mod timing;

pub use rtu::RtuOptions;
pub use tcp::TcpOptions;
