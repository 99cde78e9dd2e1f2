//! iron-cage's cost engine: [`Money`] as integer micro-USD, the embedded
//! [`PriceTable`], provider [`Usage`] parsing, token counting with the real BPE
//! ranks, and the [`Ledger`] whose reservations can never overspend.
//!
//! This crate knows nothing of Python; `iron_cage_py` wraps it.

mod bpe_count;
mod error;
mod ledger;
pub mod litellm;
mod money;
mod prices;
mod tokens;
mod usage;

pub use error::CostError;
pub use ledger::{thresholds_ppm, Ledger, LedgerEvent, Reservation, SharedReservation, Snapshot};
pub use money::{Money, MICROS_PER_USD};
pub use prices::{
    active as active_prices, set_active as set_active_prices, ModelPrice, PriceTable, Provider,
    Rates, Resolved, Tier, PRICES_ENV, UNKNOWN_MODEL_ENV,
};
pub use tokens::{model_tail, starts_with_ignore_case, tokenizer_for, Tokenizer};
pub use usage::{Field, Usage, UsageFields};
