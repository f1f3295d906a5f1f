//! sitegate: the site gateway for EV-charging sockets. See ARCHITECTURE.md for the map.

pub mod config;
pub mod core;
pub mod modbus;
pub mod problems;
pub mod profile;
