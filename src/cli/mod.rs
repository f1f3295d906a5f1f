//! Command-line tools kept out of the modules whose work they run: each owns its arguments
//! (clap), the files it reads and what it prints, and calls the library for the work. Nothing
//! in the library imports `cli`.
//!
//! `tariff`: `sitegate tariff quote` (the pricing it runs is the pure `core::pricing`).

pub mod tariff;
