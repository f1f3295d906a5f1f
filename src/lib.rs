//! sitegate: the site gateway for EV-charging sockets. See ARCHITECTURE.md for the map.

pub mod modbus;
