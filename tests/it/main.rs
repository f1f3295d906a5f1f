//! sitegate's integration tests: one binary (link time on 2 cores), a module per area. Every
//! test runs the real daemon against the simulators over real TCP sockets and PTYs.

mod cli;
mod decode;
mod faults;
mod kill9;
mod states;
mod support;
mod tools;
