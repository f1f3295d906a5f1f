//! Pricing: tariffs after OCPP 2.1 `TariffType`, the cost of a session from its samples, and
//! promotions. Pure: no I/O (except `cli`, the quote tool), no clock reads; every instant and
//! the site's time zone come from the caller. See docs/pricing.md for the model, the rounding
//! policy and worked examples.

pub mod tariff;
pub mod wire;

pub use tariff::{Conditions, Currency, PriceElement, PriceList, Tariff, Tax};
pub use wire::parse_tariff;
