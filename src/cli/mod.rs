//! Command-line tools kept out of the modules whose work they run: each owns its arguments
//! (clap), the files it reads and what it prints, and calls the library for the work. Nothing
//! in the library imports `cli`.
//!
//! `tariff`: `sitegate tariff quote` (the pricing it runs is the pure `core::pricing`);
//! `export`: `sitegate export` (the reports are `export`'s, the queries `store::reports`');
//! `backup`: `sitegate backup|restore` (the copy and its checks are `store::backup`'s).

pub mod backup;
pub mod export;
pub mod tariff;
