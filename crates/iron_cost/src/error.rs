//! The one error type of `iron_cost`. Every message says what happened, the
//! numbers involved, and what to do; the Python binding maps each variant to
//! one exception of the `IronCageError` tree.

use crate::money::Money;

/// Everything that can go wrong in money, prices, token counting and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// An amount of USD that is negative, NaN, infinite, unparsable or too large.
    #[error("invalid amount for {what}: {value:?} {reason}")]
    InvalidAmount {
        /// Which argument was wrong (`limit_usd`, `amount`, a price field...).
        what: String,
        /// The value as given, for the message.
        value: String,
        /// Why it was rejected and what is accepted instead.
        reason: String,
    },

    /// A model the price table does not know and no default price is configured.
    #[error("unknown model {model:?}: it is not in the price table (version {table_version}).{} Add it with a price override file (IRON_CAGE_PRICES=prices.toml), import a newer price map (`iron-cage prices import model_prices_and_context_window.json`), or opt in to pricing unknown models as a known one (IRON_CAGE_UNKNOWN_MODEL=price_as:<model>)", suggestion_text(.suggestions))]
    UnknownModel {
        /// The model as requested.
        model: String,
        /// Close matches from the table, best first.
        suggestions: Vec<String>,
        /// The price table version, so users know how current it is.
        table_version: String,
    },

    /// A model is priced but not for the requested service tier.
    #[error("model {model:?} has no {tier} price in the price table; use tier \"standard\" or add {tier}_input/{tier}_output prices for it in an override file")]
    TierNotPriced {
        /// The resolved model name.
        model: String,
        /// The requested tier (`priority`, `batch`, `flex`).
        tier: String,
    },

    /// A service tier name iron-cage does not know.
    #[error(
        "unknown service tier {0:?}: use \"standard\", \"batch\" (or \"flex\") or \"priority\""
    )]
    InvalidTier(String),

    /// A price table file or dictionary that cannot be used.
    #[error("invalid price table {source_name}: {message}")]
    PriceTable {
        /// Where the table came from (a path, `<embedded>`, `<dict>`).
        source_name: String,
        /// What is wrong and where.
        message: String,
    },

    /// A provider usage object that is not one of the known shapes or has bad values.
    #[error("invalid usage object: {0}")]
    InvalidUsage(String),

    /// A model whose tokenizer iron-cage cannot determine.
    #[error("no tokenizer known for model {model:?}: iron-cage counts exactly for OpenAI models (o200k_base: gpt-4o, gpt-4.1, gpt-5, o-series; cl100k_base: gpt-4, gpt-3.5, text-embedding-*) and estimates for Claude models; set \"tokenizer\" for this model in a price override file")]
    UnknownTokenizer {
        /// The model as requested.
        model: String,
    },

    /// A chat message list that is not a list of `{role, content}` objects.
    #[error("invalid messages: {0}")]
    InvalidMessages(String),

    /// A reservation that would take the ledger over its limit.
    #[error("budget {ledger:?} exceeded: requested {requested} but only {remaining} of {limit} remains (spent {spent}, reserved by calls in flight {reserved}); raise the limit with set_limit() or lower max_tokens")]
    BudgetExceeded {
        /// The ledger that refused (a child or one of its parents).
        ledger: String,
        /// Its limit.
        limit: Money,
        /// Committed spend.
        spent: Money,
        /// Outstanding reservations.
        reserved: Money,
        /// The amount asked for.
        requested: Money,
        /// `limit - spent - reserved`, zero when overrun.
        remaining: Money,
    },

    /// `commit` or `release` on a reservation that was already settled.
    #[error("reservation of {amount} was already {state}; a reservation is settled exactly once (commit or release), nothing was changed")]
    AlreadySettled {
        /// The reserved amount.
        amount: Money,
        /// `committed` or `released`.
        state: &'static str,
    },

    /// Thresholds outside (0, 1].
    #[error("invalid threshold {0}: thresholds are fractions of the limit in (0, 1], for example 0.9 for 90%")]
    InvalidThreshold(String),
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" Did you mean {}?", suggestions.join(" or "))
    }
}
