//! The southbound edge: Modbus transports (TCP, RTU on serial lines) and the bus owners that
//! poll devices on them. Owns every socket and serial port the daemon opens toward devices;
//! never decides what a reading means (that is `profile` and `core`).

pub mod bus;
pub mod crc;
pub mod device;
pub mod frame;
pub mod health;
pub mod link;
pub mod pdu;
pub mod rtu;
pub mod schedule;
pub mod stats;
pub mod tap;
pub mod tcp;
pub mod timing;
