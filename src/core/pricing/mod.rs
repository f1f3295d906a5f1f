//! Pricing: tariffs after OCPP 2.1 `TariffType`, the cost of a session from its samples, and
//! promotions. Pure: no I/O, no clock reads; every instant and the site's time zone come from
//! the caller. Reads the JSON central sends (`wire`: tariffs, `promotion`: promotions) and the
//! quote tool's session file (`input`), every problem with its path (`crate::problems`); never
//! writes JSON (the `wire` module makes the breakdown's) and never prints (`cli::tariff` does).
//! See docs/pricing.md for the model, the rounding policy and worked examples.

pub(crate) mod cost;
pub(crate) mod input;
pub(crate) mod precedence;
pub(crate) mod promotion;
pub(crate) mod tariff;
pub(crate) mod timeline;
pub(crate) mod wire;

pub use cost::{Breakdown, ChargingPeriod, CostError, CostInput, CostSample, cost, round_money};
pub use input::parse_session;
pub use precedence::TariffSet;
pub use promotion::{Action, Offer, Party, Promotion, Refusal, parse_promotion};
pub use tariff::{Conditions, Currency, PriceElement, PriceList, Tariff, Tax};
pub use wire::parse_tariff;
