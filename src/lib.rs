//! sitegate: the site gateway for EV-charging sockets. See ARCHITECTURE.md for the map.

pub mod app;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod export;
pub mod logging;
pub mod modbus;
pub mod notify;
pub mod problems;
pub mod profile;
pub mod readers;
pub mod store;
pub mod tools;
pub mod uplink;
pub mod web;
pub mod wire;
