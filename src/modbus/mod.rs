//! The southbound edge: Modbus transports (TCP, RTU on serial lines) and the bus owners that
//! poll devices on them. Owns every socket and serial port the daemon opens toward devices;
//! never decides what a reading means (that is `profile` and `core`).

pub(crate) mod bus;
pub(crate) mod crc;
pub(crate) mod device;
pub(crate) mod frame;
pub(crate) mod health;
pub(crate) mod link;
pub(crate) mod pdu;
pub(crate) mod rtu;
pub(crate) mod schedule;
pub mod stats;
pub(crate) mod tap;
pub(crate) mod tcp;
pub(crate) mod timing;
