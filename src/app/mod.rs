//! The top floor: the wiring. Starts and stops the daemon (`daemon`), runs the core's loop
//! (`core_task`), reloads the configuration without a restart (`supervisor`), and runs the
//! whole simulated site (`demo`, with the cargo feature `demo`). Nothing below `app` imports `app`; the floors below declare
//! what they need (channels, watches, traits) and this floor provides it.

mod core_task;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod supervisor;
