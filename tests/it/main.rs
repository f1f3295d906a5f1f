//! sitegate's integration tests: one binary (link time on 2 cores), a module per area. The
//! daemon's tests run it against the simulators over real TCP sockets and PTYs; `export` runs
//! the exports on a fixed database.

mod access;
mod accounts;
mod backup;
mod badges;
mod broker;
mod browser_control;
mod browser_dashboard;
mod browser_installer;
mod browser_sessions;
mod browser_smoke;
mod browser_system;
mod browser_tools;
mod cli;
mod decode;
#[cfg(feature = "demo")]
mod demo;
mod export;
mod faults;
mod kill9;
mod mqtt_support;
mod notify;
mod pricing;
mod readers;
mod reload;
mod sessions;
mod states;
mod store;
mod support;
mod telemetry;
mod tools;
mod uplink;
mod web;
mod web_access;
mod web_accounts;
mod web_installer;
mod web_sessions;
mod web_socket;
mod web_system;
mod web_tools;
