//! The price table: what a token of each model costs, by service tier.
//!
//! The embedded table (`data/prices.json`, dated by its `version`) covers the
//! current OpenAI and Anthropic chat models. Users add or replace models with a
//! JSON or TOML file of the same shape (`IRON_CAGE_PRICES=prices.toml`) or from
//! Python; a `default` entry prices any model the table does not know.
//! Rates are held as integer micro-USD per million tokens, so a cost is a sum of
//! integer products, rounded up to the next micro-dollar once per call.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use serde::Deserialize;

use crate::error::CostError;
use crate::money::Money;
use crate::tokens::Tokenizer;
use crate::usage::Usage;

/// Who serves a model; decides default cache and batch multipliers and how an
/// ambiguous usage object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI: cached input has its own price, cache writes are free.
    OpenAi,
    /// Anthropic: cache reads 0.1x input, writes 1.25x (5 min) or 2x (1 h).
    Anthropic,
    /// Anything else: only the prices the table states.
    Other,
}

impl Provider {
    /// `openai`, `anthropic` or `other`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Other => "other",
        }
    }
}

/// The service tier a request ran in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Regular synchronous requests.
    Standard,
    /// Batch API (and OpenAI `flex`, billed at batch rates).
    Batch,
    /// OpenAI priority processing.
    Priority,
}

impl Tier {
    /// Parses `standard` (also `default`, `auto`, `scale`), `batch` (also `flex`) or `priority`.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(name: &str) -> Result<Self, CostError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "standard" | "default" | "auto" | "scale" | "" => Ok(Tier::Standard),
            "batch" | "flex" => Ok(Tier::Batch),
            "priority" => Ok(Tier::Priority),
            other => Err(CostError::InvalidTier(other.to_owned())),
        }
    }

    /// The canonical name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Batch => "batch",
            Tier::Priority => "priority",
        }
    }
}

/// Rates in micro-USD per million tokens for one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cached_input: u64,
    /// Input tokens written to a 5-minute cache.
    pub cache_write_5m: u64,
    /// Input tokens written to a 1-hour cache.
    pub cache_write_1h: u64,
    /// Audio input tokens (0: the model takes no audio).
    pub audio_input: u64,
    /// Audio output tokens (0: the model speaks no audio).
    pub audio_output: u64,
    /// Micro-USD per server-side web search (Anthropic: $10 per 1,000).
    pub web_search: u64,
}

impl Rates {
    fn scaled(self, num: u64, den: u64) -> Rates {
        let s = |v: u64| v.saturating_mul(num) / den;
        Rates {
            input: s(self.input),
            output: s(self.output),
            cached_input: s(self.cached_input),
            cache_write_5m: s(self.cache_write_5m),
            cache_write_1h: s(self.cache_write_1h),
            audio_input: s(self.audio_input),
            audio_output: s(self.audio_output),
            web_search: self.web_search,
        }
    }

    /// Exact cost in micro-USD times one million (so no rounding happens yet).
    fn cost_scaled(&self, usage: &Usage) -> u128 {
        let term = |tokens: u64, rate: u64| u128::from(tokens) * u128::from(rate);
        // Audio a model has no audio rate for is priced as text (never as free).
        let or_text = |audio: u64, text: u64| if audio == 0 { text } else { audio };
        term(usage.input, self.input)
            + term(usage.output - usage.audio_output, self.output)
            + term(usage.audio_input, or_text(self.audio_input, self.input))
            + term(usage.audio_output, or_text(self.audio_output, self.output))
            + term(usage.web_searches, self.web_search) * 1_000_000
            + term(usage.cached_input, self.cached_input)
            + term(usage.cache_write_5m, self.cache_write_5m)
            + term(usage.cache_write_1h, self.cache_write_1h)
    }
}

/// Everything the table knows about one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// Who serves it.
    pub provider: Provider,
    /// Standard-tier rates.
    pub standard: Rates,
    /// Batch-tier rates (50% of standard unless the table says otherwise).
    pub batch: Rates,
    /// Priority-tier rates, when the provider offers them for this model.
    pub priority: Option<Rates>,
    /// Above this many input tokens (cache included) long-context rates apply.
    pub long_context: Option<(u64, Rates)>,
    /// Largest completion the model can produce, for worst-case reservations.
    pub max_output_tokens: Option<u32>,
    /// Context window in tokens.
    pub context_window: Option<u32>,
    /// How to count its tokens, when the table says so.
    pub tokenizer: Option<Tokenizer>,
}

impl ModelPrice {
    /// The rates that apply to `usage` in `tier`.
    ///
    /// # Errors
    /// The tier is not priced for this model.
    pub fn rates_for(&self, model: &str, tier: Tier, usage: &Usage) -> Result<Rates, CostError> {
        let base = match tier {
            Tier::Standard => self.standard,
            Tier::Batch => self.batch,
            Tier::Priority => self.priority.ok_or_else(|| CostError::TierNotPriced {
                model: model.to_owned(),
                tier: tier.as_str().to_owned(),
            })?,
        };
        match self.long_context {
            Some((threshold, long)) if usage.total_input() > threshold => {
                // Long-context rates replace standard ones; other tiers scale alike.
                if tier == Tier::Standard || self.standard.input == 0 {
                    Ok(long)
                } else {
                    Ok(Rates {
                        input: ratio(base.input, long.input, self.standard.input),
                        output: ratio(base.output, long.output, self.standard.output),
                        cached_input: ratio(base.cached_input, long.input, self.standard.input),
                        cache_write_5m: ratio(base.cache_write_5m, long.input, self.standard.input),
                        cache_write_1h: ratio(base.cache_write_1h, long.input, self.standard.input),
                        ..base
                    })
                }
            }
            _ => Ok(base),
        }
    }

    /// The cost of `usage` in `tier`, rounded up to the next micro-dollar.
    ///
    /// # Errors
    /// The tier is not priced for this model.
    pub fn cost(&self, model: &str, usage: &Usage, tier: Tier) -> Result<Money, CostError> {
        let rates = self.rates_for(model, tier, usage)?;
        let scaled = rates.cost_scaled(usage);
        let micros = scaled.div_ceil(1_000_000);
        u64::try_from(micros).map(Money::from_micros).map_err(|_| {
            CostError::InvalidUsage(format!(
                "the cost of {usage:?} does not fit in a 64-bit amount"
            ))
        })
    }
}

fn ratio(value: u64, num: u64, den: u64) -> u64 {
    if den == 0 {
        return value;
    }
    u64::try_from(u128::from(value) * u128::from(num) / u128::from(den)).unwrap_or(u64::MAX)
}

/// A model name resolved against the table.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The table's name for it, or `"<default>"` when the default price applied.
    pub name: &'a str,
    /// Its prices.
    pub price: &'a ModelPrice,
}

/// Prices for a set of models, a version, and an optional default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    version: String,
    models: HashMap<String, ModelPrice>,
    aliases: HashMap<String, String>,
    default: Option<ModelPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    version: Option<String>,
    #[allow(dead_code)]
    currency: Option<String>,
    #[allow(dead_code)]
    unit: Option<String>,
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    models: HashMap<String, RawModel>,
    #[serde(default)]
    aliases: HashMap<String, String>,
    default: Option<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    provider: Option<String>,
    input: Option<f64>,
    output: Option<f64>,
    cached_input: Option<f64>,
    cache_write_5m: Option<f64>,
    cache_write_1h: Option<f64>,
    batch_input: Option<f64>,
    batch_output: Option<f64>,
    priority_input: Option<f64>,
    priority_output: Option<f64>,
    priority_cached_input: Option<f64>,
    long_context_threshold: Option<u64>,
    long_context_input: Option<f64>,
    long_context_output: Option<f64>,
    max_output_tokens: Option<u32>,
    context_window: Option<u32>,
    tokenizer: Option<String>,
    audio_input: Option<f64>,
    audio_output: Option<f64>,
    /// USD per server-side web search.
    web_search: Option<f64>,
}

fn rate(v: Option<f64>, field: &str, model: &str, source: &str) -> Result<Option<u64>, CostError> {
    v.map(|x| {
        // A price per million tokens in USD is numerically the micro-USD per token,
        // so micro-USD per million tokens is the same decimal read as "USD".
        Money::parse_usd(&format!("{x}"), &format!("{model}.{field}"))
            .map(Money::micros)
            .map_err(|e| CostError::PriceTable {
                source_name: source.to_owned(),
                message: e.to_string(),
            })
    })
    .transpose()
}

impl RawModel {
    fn resolve(self, model: &str, source: &str) -> Result<ModelPrice, CostError> {
        let bad = |message: String| CostError::PriceTable {
            source_name: source.to_owned(),
            message,
        };
        let provider = match self.provider.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("openai") => Provider::OpenAi,
            Some("anthropic") => Provider::Anthropic,
            None | Some("other") => Provider::Other,
            Some(p) => return Err(bad(format!("model {model:?}: unknown provider {p:?}; use \"openai\", \"anthropic\" or \"other\""))),
        };
        let r = |v: Option<f64>, f: &str| rate(v, f, model, source);
        let input = r(self.input, "input")?.ok_or_else(|| {
            bad(format!(
                "model {model:?} has no \"input\" price (USD per 1M tokens)"
            ))
        })?;
        let output = r(self.output, "output")?.ok_or_else(|| {
            bad(format!(
                "model {model:?} has no \"output\" price (USD per 1M tokens)"
            ))
        })?;
        let (read_num, w5_num, w1_num, den) = match provider {
            Provider::Anthropic => (10, 125, 200, 100),
            Provider::OpenAi | Provider::Other => (100, 100, 100, 100),
        };
        let standard = Rates {
            input,
            output,
            cached_input: r(self.cached_input, "cached_input")?.unwrap_or(input * read_num / den),
            cache_write_5m: r(self.cache_write_5m, "cache_write_5m")?
                .unwrap_or(input * w5_num / den),
            cache_write_1h: r(self.cache_write_1h, "cache_write_1h")?
                .unwrap_or(input * w1_num / den),
            audio_input: r(self.audio_input, "audio_input")?.unwrap_or(0),
            audio_output: r(self.audio_output, "audio_output")?.unwrap_or(0),
            web_search: match (self.web_search, provider) {
                (Some(v), _) => Money::parse_usd(&format!("{v}"), &format!("{model}.web_search"))
                    .map_err(|e| bad(e.to_string()))?
                    .micros(),
                // Anthropic's published price: $10 per 1,000 searches.
                (None, Provider::Anthropic) => 10_000,
                (None, _) => 0,
            },
        };
        let half = standard.scaled(1, 2);
        let batch = Rates {
            input: r(self.batch_input, "batch_input")?.unwrap_or(half.input),
            output: r(self.batch_output, "batch_output")?.unwrap_or(half.output),
            ..half
        };
        let priority = match (
            r(self.priority_input, "priority_input")?,
            r(self.priority_output, "priority_output")?,
        ) {
            (Some(pi), Some(po)) => {
                let pc = r(self.priority_cached_input, "priority_cached_input")?.unwrap_or(pi);
                Some(Rates {
                    input: pi,
                    output: po,
                    cached_input: pc,
                    cache_write_5m: pi,
                    cache_write_1h: pi,
                    ..standard
                })
            }
            (None, None) => None,
            _ => {
                return Err(bad(format!(
                    "model {model:?}: give both priority_input and priority_output, or neither"
                )))
            }
        };
        let long_context = match (
            self.long_context_threshold,
            r(self.long_context_input, "long_context_input")?,
            r(self.long_context_output, "long_context_output")?,
        ) {
            (Some(t), Some(li), Some(lo)) => {
                let mut long = standard;
                long.input = li;
                long.output = lo;
                long.cached_input = ratio(standard.cached_input, li, input);
                long.cache_write_5m = ratio(standard.cache_write_5m, li, input);
                long.cache_write_1h = ratio(standard.cache_write_1h, li, input);
                Some((t, long))
            }
            (None, None, None) => None,
            _ => return Err(bad(format!("model {model:?}: long-context pricing needs long_context_threshold, long_context_input and long_context_output together"))),
        };
        let tokenizer = self
            .tokenizer
            .as_deref()
            .map(|t| Tokenizer::parse(t).ok_or_else(|| bad(format!("model {model:?}: unknown tokenizer {t:?}; use \"o200k_base\", \"cl100k_base\" or \"anthropic_estimate\""))))
            .transpose()?;
        Ok(ModelPrice {
            provider,
            standard,
            batch,
            priority,
            long_context,
            max_output_tokens: self.max_output_tokens,
            context_window: self.context_window,
            tokenizer,
        })
    }
}

impl PriceTable {
    /// The table compiled into this build.
    ///
    /// # Panics
    /// Never in a released build: the embedded JSON is checked by the unit tests.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn embedded() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            PriceTable::from_json_str(include_str!("../data/prices.json"), "<embedded>")
                .expect("the embedded price table is valid (checked by unit tests)")
        })
    }

    /// Reads a table from JSON text; `source_name` appears in errors.
    ///
    /// # Errors
    /// Invalid JSON or a model entry that cannot be used.
    pub fn from_json_str(text: &str, source_name: &str) -> Result<Self, CostError> {
        let bad = |e: serde_json::Error| CostError::PriceTable {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
        // A LiteLLM price map is taken as it is published.
        let value = if crate::litellm::is_litellm_map(&value) {
            crate::litellm::to_table(&value, "litellm")
        } else {
            value
        };
        let raw: RawTable = serde_json::from_value(value).map_err(bad)?;
        Self::from_raw(raw, source_name)
    }

    /// Reads a table from TOML text; `source_name` appears in errors.
    ///
    /// # Errors
    /// Invalid TOML or a model entry that cannot be used.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self, CostError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| CostError::PriceTable {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_raw(raw, source_name)
    }

    /// Reads a `.json` or `.toml` file.
    ///
    /// # Errors
    /// The file cannot be read, has another extension, or is invalid.
    pub fn from_path(path: &Path) -> Result<Self, CostError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CostError::PriceTable {
            source_name: name.clone(),
            message: format!("cannot read the file: {e}"),
        })?;
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Self::from_json_str(&text, &name),
            Some("toml") => Self::from_toml_str(&text, &name),
            _ => Err(CostError::PriceTable {
                source_name: name,
                message: "the file name must end in .json or .toml".into(),
            }),
        }
    }

    fn from_raw(raw: RawTable, source: &str) -> Result<Self, CostError> {
        let mut models = HashMap::with_capacity(raw.models.len());
        for (name, m) in raw.models {
            let price = m.resolve(&name, source)?;
            models.insert(normalize(&name), price);
        }
        let default = raw
            .default
            .map(|d| d.resolve("default", source))
            .transpose()?;
        let aliases: HashMap<String, String> = raw
            .aliases
            .into_iter()
            .map(|(a, t)| (normalize(&a), normalize(&t)))
            .collect();
        Ok(PriceTable {
            version: raw.version.unwrap_or_else(|| "custom".into()),
            models,
            aliases,
            default,
        })
    }

    /// This table with `overrides` on top: its models replace or add, its default
    /// replaces the default, and the version records both.
    #[must_use]
    pub fn merged(&self, overrides: &PriceTable) -> PriceTable {
        let mut out = self.clone();
        for (k, v) in &overrides.models {
            out.models.insert(k.clone(), v.clone());
            out.aliases.remove(k);
        }
        out.aliases.extend(
            overrides
                .aliases
                .iter()
                .map(|(a, b)| (a.clone(), b.clone())),
        );
        if overrides.default.is_some() {
            out.default.clone_from(&overrides.default);
        }
        out.version = format!("{}+{}", self.version, overrides.version);
        out
    }

    /// This table with `price` as the price of any unknown model.
    #[must_use]
    pub fn with_default(&self, price: ModelPrice) -> PriceTable {
        let mut out = self.clone();
        out.default = Some(price);
        out
    }

    /// This table with a policy for models it does not know: `refuse` (the
    /// default: no silent guessing in a budget) or `price_as:<model>` (price
    /// every unknown model as that known one).
    ///
    /// # Errors
    /// Another policy, or a `price_as` model this table does not know.
    pub fn with_unknown_model(&self, policy: &str) -> Result<PriceTable, CostError> {
        let policy = policy.trim();
        if policy.is_empty() || policy == "refuse" {
            let mut out = self.clone();
            out.default = None;
            return Ok(out);
        }
        let Some(model) = policy.strip_prefix("price_as:") else {
            return Err(CostError::PriceTable {
                source_name: UNKNOWN_MODEL_ENV.to_owned(),
                message: format!(
                    "unknown-model policy {policy:?}: use \"refuse\" or \"price_as:<a model in the table>\""
                ),
            });
        };
        let price = self.lookup(model.trim())?.price.clone();
        Ok(self.with_default(price))
    }

    /// The version (the date the embedded prices were taken, plus any overrides).
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// All model names, sorted.
    #[must_use]
    pub fn model_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.models.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Finds a model: exact name, alias, then without provider prefixes
    /// (`openai/`, `anthropic.`), date suffixes (`-2024-08-06`, `-20250514`,
    /// `@20240620`, `-0613`), `-latest` or a Bedrock `-v1:0`; then the default.
    ///
    /// # Errors
    /// Unknown model and no default: the error names close matches.
    pub fn lookup(&self, model: &str) -> Result<Resolved<'_>, CostError> {
        for candidate in candidates(model) {
            if let Some((name, price)) = self.models.get_key_value(&candidate) {
                return Ok(Resolved { name, price });
            }
            if let Some(target) = self.aliases.get(&candidate) {
                if let Some((name, price)) = self.models.get_key_value(target) {
                    return Ok(Resolved { name, price });
                }
            }
        }
        if let Some(price) = &self.default {
            return Ok(Resolved {
                name: "<default>",
                price,
            });
        }
        Err(CostError::UnknownModel {
            model: model.to_owned(),
            suggestions: self.suggest(model),
            table_version: self.version.clone(),
        })
    }

    /// The cost of `usage` (a provider usage object as JSON) for `model` in `tier`.
    ///
    /// # Errors
    /// Unknown model, unpriced tier, or a usage object of no known shape.
    pub fn cost_of_json(
        &self,
        model: &str,
        usage: &serde_json::Value,
        tier: Tier,
    ) -> Result<Money, CostError> {
        let resolved = self.lookup(model)?;
        let usage = Usage::from_json(usage, resolved.price.provider)?;
        resolved.price.cost(resolved.name, &usage, tier)
    }

    fn suggest(&self, model: &str) -> Vec<String> {
        let want = normalize(model);
        let mut scored: Vec<(usize, &str)> = self
            .models
            .keys()
            .map(|k| {
                let d = levenshtein(&want, k);
                let bonus = if k.starts_with(&want) || want.starts_with(k.as_str()) {
                    0
                } else {
                    1
                };
                (d * 2 + bonus, k.as_str())
            })
            .filter(|(score, k)| *score <= (k.len().max(want.len()) / 3).max(3) * 2 + 1)
            .collect();
        scored.sort_unstable();
        scored
            .into_iter()
            .take(3)
            .map(|(_, k)| k.to_owned())
            .collect()
    }
}

fn normalize(model: &str) -> String {
    model.trim().to_ascii_lowercase()
}

/// The names to try for `model`, most specific first.
fn candidates(model: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(4);
    let mut m = normalize(model);
    out.push(m.clone());
    // A fine-tuned model (`ft:gpt-4o-mini-2024-07-18:org:name:id`) is priced as
    // fine-tunes of its base model are (`ft:gpt-4o-mini`).
    if let Some(rest) = m.strip_prefix("ft:") {
        let base = rest.split(':').next().unwrap_or(rest);
        m = format!("ft:{base}");
        out.push(m.clone());
    }
    for prefix in ["openai/", "anthropic/", "anthropic.", "azure/", "bedrock/"] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest.to_owned();
            out.push(m.clone());
        }
    }
    loop {
        let stripped = strip_version_suffix(&m);
        match stripped {
            Some(s) if !s.is_empty() => {
                m = s.to_owned();
                out.push(m.clone());
            }
            _ => break,
        }
    }
    out
}

/// Removes one trailing snapshot marker, if there is one.
fn strip_version_suffix(m: &str) -> Option<&str> {
    if let Some(rest) = m.strip_suffix("-latest") {
        return Some(rest);
    }
    // Bedrock: -v1:0
    if let Some(i) = m.rfind("-v") {
        let tail = &m[i + 2..];
        if let Some((a, b)) = tail.split_once(':') {
            if is_digits(a, 1..=2) && is_digits(b, 1..=2) {
                return Some(&m[..i]);
            }
        }
    }
    // -2024-08-06
    if m.len() > 11 && m.as_bytes()[m.len() - 11] == b'-' {
        let tail = &m[m.len() - 10..];
        let parts: Vec<&str> = tail.split('-').collect();
        if parts.len() == 3
            && is_digits(parts[0], 4..=4)
            && is_digits(parts[1], 2..=2)
            && is_digits(parts[2], 2..=2)
        {
            return Some(&m[..m.len() - 11]);
        }
    }
    // -20250514 or @20240620, and legacy -0613
    if let Some(i) = m.rfind(['-', '@']) {
        if is_digits(&m[i + 1..], 8..=8)
            || (m.as_bytes()[i] == b'-' && is_digits(&m[i + 1..], 4..=4))
        {
            return Some(&m[..i]);
        }
    }
    None
}

fn is_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A price file merged over the embedded table (iron-cage's JSON or TOML, or a
/// LiteLLM `model_prices_and_context_window.json`).
pub const PRICES_ENV: &str = "IRON_CAGE_PRICES";
/// What to do with a model no table knows: `refuse` (default) or `price_as:<model>`.
pub const UNKNOWN_MODEL_ENV: &str = "IRON_CAGE_UNKNOWN_MODEL";

/// The process-wide table used when none is passed explicitly: the embedded one,
/// merged with the file named by `IRON_CAGE_PRICES` if that is set, with the
/// unknown-model policy of `IRON_CAGE_UNKNOWN_MODEL`.
///
/// # Errors
/// `IRON_CAGE_PRICES` names a file that cannot be used (not cached: fix it and retry).
pub fn active() -> Result<Arc<PriceTable>, CostError> {
    let lock = active_slot();
    if let Some(t) = lock
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
    {
        return Ok(Arc::clone(t));
    }
    let table = match std::env::var_os(PRICES_ENV) {
        Some(path) if !path.is_empty() => {
            let overrides = PriceTable::from_path(Path::new(&path)).map_err(|e| match e {
                CostError::PriceTable {
                    source_name,
                    message,
                } => CostError::PriceTable {
                    source_name: format!("{source_name} (from IRON_CAGE_PRICES)"),
                    message,
                },
                other => other,
            })?;
            PriceTable::embedded().merged(&overrides)
        }
        _ => PriceTable::embedded().clone(),
    };
    let table = match std::env::var(UNKNOWN_MODEL_ENV) {
        Ok(policy) => table.with_unknown_model(&policy)?,
        Err(_) => table,
    };
    let table = Arc::new(table);
    let mut slot = lock
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Arc::clone(slot.get_or_insert(table)))
}

/// Replaces the process-wide table (`None` goes back to embedded + `IRON_CAGE_PRICES`).
pub fn set_active(table: Option<Arc<PriceTable>>) {
    *active_slot()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = table;
}

fn active_slot() -> &'static RwLock<Option<Arc<PriceTable>>> {
    static SLOT: RwLock<Option<Arc<PriceTable>>> = RwLock::new(None);
    &SLOT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_loads_and_covers_the_families() {
        let t = PriceTable::embedded();
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-5",
            "gpt-5-mini",
            "o1",
            "o3",
            "o4-mini",
            "gpt-3.5-turbo",
            "gpt-4",
            "claude-3-haiku",
            "claude-3-5-sonnet",
            "claude-3-7-sonnet",
            "claude-sonnet-4",
            "claude-opus-4-1",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "claude-opus-4-5",
        ] {
            assert!(t.lookup(m).is_ok(), "{m} missing");
        }
    }

    #[test]
    fn resolves_snapshots_and_prefixes() {
        let t = PriceTable::embedded();
        let name = |m: &str| t.lookup(m).map(|r| r.name.to_owned());
        assert_eq!(name("gpt-4o-2024-08-06").as_deref(), Ok("gpt-4o"));
        assert_eq!(
            name("gpt-4o-2024-05-13").as_deref(),
            Ok("gpt-4o-2024-05-13")
        );
        assert_eq!(
            name("openai/gpt-4o-mini-2024-07-18").as_deref(),
            Ok("gpt-4o-mini")
        );
        assert_eq!(
            name("claude-sonnet-4-5-20250929").as_deref(),
            Ok("claude-sonnet-4-5")
        );
        assert_eq!(
            name("anthropic.claude-3-5-sonnet-20240620-v1:0").as_deref(),
            Ok("claude-3-5-sonnet")
        );
        assert_eq!(
            name("claude-3-5-sonnet@20240620").as_deref(),
            Ok("claude-3-5-sonnet")
        );
        assert_eq!(
            name("claude-3-7-sonnet-latest").as_deref(),
            Ok("claude-3-7-sonnet")
        );
        assert_eq!(name("claude-opus-4-0").as_deref(), Ok("claude-opus-4"));
        assert_eq!(name("gpt-4-0613").as_deref(), Ok("gpt-4"));
        assert_eq!(name("GPT-4o").as_deref(), Ok("gpt-4o"));
    }

    #[test]
    fn unknown_model_suggests_close_names() {
        let err = PriceTable::embedded()
            .lookup("gpt-4o-mnii")
            .expect_err("unknown");
        match &err {
            CostError::UnknownModel { suggestions, .. } => {
                assert_eq!(suggestions.first().map(String::as_str), Some("gpt-4o-mini"))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().contains("Did you mean gpt-4o-mini"),
            "{err}"
        );
        assert!(
            PriceTable::embedded()
                .lookup("gpt-4o-hologram-preview")
                .is_err(),
            "no loose prefix matches"
        );
    }

    #[test]
    fn overrides_and_default() {
        let o = PriceTable::from_toml_str(
            "version = \"mine\"\n[models.my-model]\ninput = 1.0\noutput = 2.0\n[default]\ninput = 10\noutput = 20\n",
            "<test>",
        )
        .expect("valid");
        let t = PriceTable::embedded().merged(&o);
        assert_eq!(
            t.lookup("my-model").map(|r| r.price.standard.input),
            Ok(1_000_000)
        );
        assert_eq!(t.lookup("nope").map(|r| r.name), Ok("<default>"));
        assert!(t.version().ends_with("+mine"));
        let bad = PriceTable::from_json_str(
            "{\"models\": {\"x\": {\"input\": -1, \"output\": 1}}}",
            "f.json",
        );
        assert!(bad.expect_err("negative").to_string().contains("x.input"));
        let missing = PriceTable::from_json_str("{\"models\": {\"x\": {\"input\": 1}}}", "f.json");
        assert!(missing
            .expect_err("no output")
            .to_string()
            .contains("no \"output\" price"));
        let typo = PriceTable::from_json_str(
            "{\"models\": {\"x\": {\"input\": 1, \"output\": 1, \"ouput\": 2}}}",
            "f.json",
        );
        assert!(typo
            .expect_err("unknown field")
            .to_string()
            .contains("ouput"));
    }
}
