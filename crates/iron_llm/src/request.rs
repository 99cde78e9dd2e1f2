//! Requests: parse, count, estimate the worst case, cap the output, ask for usage.
//!
//! The worst case of a call is its counted input (plus a small margin for the
//! provider's own framing) at the input rate, plus its maximum output at the
//! output rate, times the number of choices. When the caller sets no maximum
//! output, the request is capped at what the available budget can pay for (or
//! the model's own maximum, whichever is lower), so a reservation always covers
//! the most the call can cost.

use std::sync::OnceLock;

use iron_cost::{Field, ModelPrice, Money, PriceTable, Provider, Tier, Tokenizer, Usage};
use serde_json::{Map, Value};

use crate::error::LlmError;
use crate::format::ApiFormat;
use crate::inputs::{self, Inputs};
use crate::skim::{Token, Tokens};

/// Largest output assumed for a model whose maximum the table does not know.
pub const UNKNOWN_MAX_OUTPUT: u64 = 128_000;

/// A parsed request body.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    /// The endpoint.
    pub format: ApiFormat,
    /// `model` as sent.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// The request as received.
    raw: Vec<u8>,
    /// The JSON body, parsed on first use (see [`ParsedRequest::body`]).
    body: OnceLock<Map<String, Value>>,
    /// An upper bound of the input tokens, found without tokenizing (each
    /// text counted as its byte length): what a call reserves for when the
    /// budget has room to spare. [`ParsedRequest::input_tokens`] counts exactly.
    pub input_bound: u64,
    /// The exact count, made on first use.
    input_exact: OnceLock<u64>,
    /// The tokenizer of `model` (`o200k_base` for unknown models).
    pub tokenizer: Tokenizer,
    /// The maximum output per choice the caller set, if any.
    pub requested_output: Option<u64>,
    /// Number of choices (`n`).
    pub choices: u64,
    /// The price tier (`service_tier: "priority"` / `"batch"`; else standard).
    pub tier: Tier,
    /// Whether iron-cage changed the body tree (cap written, stream usage
    /// requested): it is sent re-serialised.
    pub modified: bool,
    /// Whether the raw body is iron-cage's rewrite of the caller's (PII
    /// replaced): it is sent, as it is, instead of the caller's bytes.
    pub rewritten: bool,
    /// What the request bills beyond its text (images, documents, audio,
    /// tool prompts, context by reference, server-side tools).
    pub inputs: Inputs,
    /// The stated reserve for a request whose cost has no bound (`None`: such
    /// requests are refused).
    unbounded_reserve: Option<Money>,
}

/// What a call may cost at most, and how its output was bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Input tokens reserved for (counted plus margin).
    pub input_tokens: u64,
    /// Output tokens reserved for (all choices).
    pub output_tokens: u64,
    /// The worst-case cost: the amount to reserve.
    pub cost: Money,
    /// Whether iron-cage wrote a maximum output into the request.
    pub capped: bool,
}

/// A reservation on the input bound is only taken when the call's worst case
/// is at most this fraction (1/n) of what is available; nearer the limit the
/// input is counted exactly, so that over-reserving never refuses a call that fits.
const BOUND_HEADROOM: u64 = 4;

/// A priced worst case and the output cap it needs written into the body.
struct Plan {
    estimate: Estimate,
    write: Option<u64>,
    /// The budget, not the model's maximum, limits the output.
    budget_capped: bool,
}

/// Why a request cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Not even the smallest call fits in the budget.
    #[error("budget exceeded: this call may cost up to {needed}, only {available} is left")]
    Budget {
        /// The least the call could reserve.
        needed: Money,
        /// What was available.
        available: Money,
    },
    /// The request's cost has no upper bound and no reserve was stated for it.
    #[error("the cost of this request has no upper bound: {why}. Under a hard budget it is not sent; send the content inline, remove the field, or set unbounded_reserve_usd to reserve a stated amount for such calls")]
    Unbounded {
        /// The field and value that make it unbounded.
        why: String,
    },
    /// The model is not priced, or its prices cannot be applied.
    #[error(transparent)]
    Llm(#[from] LlmError),
}

fn bad(msg: impl Into<String>) -> LlmError {
    LlmError::BadRequest(msg.into())
}

impl ParsedRequest {
    /// Parses a request body for `format`.
    ///
    /// # Errors
    /// Not a JSON object, no `model`, or the fields the endpoint requires are
    /// missing or of the wrong type.
    pub fn parse(format: ApiFormat, body: &[u8]) -> Result<Self, LlmError> {
        if let Some(fields) = skim_request(format, body) {
            let tokenizer = Tokenizer::for_model(&fields.model).unwrap_or(Tokenizer::O200kBase);
            let mut inputs = Inputs::default();
            if fields.anthropic_tools {
                inputs.fixed_tokens = inputs::anthropic_tool_prompt(&fields.model);
            }
            return Ok(ParsedRequest {
                format,
                model: fields.model,
                stream: fields.stream,
                raw: body.to_vec(),
                body: OnceLock::new(),
                input_bound: u64::try_from(tokenizer.bound_units(fields.input_units))
                    .unwrap_or(u64::MAX)
                    .saturating_add(inputs.fixed_tokens),
                input_exact: OnceLock::new(),
                tokenizer,
                requested_output: fields.requested_output,
                choices: fields.choices,
                tier: fields.tier,
                modified: false,
                rewritten: false,
                inputs,
                unbounded_reserve: None,
            });
        }
        Self::parse_tree(format, body)
    }

    /// [`ParsedRequest::parse`] through a JSON tree: for bodies the skim does
    /// not take, and the one place the errors are worded.
    pub(crate) fn parse_tree(format: ApiFormat, raw: &[u8]) -> Result<Self, LlmError> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| {
            bad(format!(
                "the request body is not valid JSON ({e}); send a JSON object like {{\"model\": \"gpt-4o-mini\", \"messages\": [...]}}"
            ))
        })?;
        let Value::Object(body) = value else {
            return Err(bad("the request body must be a JSON object"));
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
            Some(_) => return Err(bad("`model` must be a non-empty string")),
            None => {
                return Err(bad(
                    "the request has no `model`; name one, e.g. \"gpt-4o-mini\"",
                ))
            }
        };
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("`stream` must be true or false")),
        };
        let tokenizer = Tokenizer::for_model(&model).unwrap_or(Tokenizer::O200kBase);
        let inputs = inputs::scan(format, &body, &model, tokenizer);
        let input_bound = u64::try_from(count_input(format, &body, tokenizer, false)?)
            .unwrap_or(u64::MAX)
            .saturating_add(inputs.media_tokens + inputs.fixed_tokens);
        let output_key = match format {
            ApiFormat::ChatCompletions => ["max_completion_tokens", "max_tokens"].as_slice(),
            ApiFormat::Responses => ["max_output_tokens"].as_slice(),
            ApiFormat::Messages => ["max_tokens"].as_slice(),
            ApiFormat::Embeddings => [].as_slice(),
        };
        let mut requested_output = None;
        for key in output_key {
            match body.get(*key) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let n = v.as_u64().filter(|&n| n > 0).ok_or_else(|| {
                        bad(format!("`{key}` must be a positive integer, got {v}"))
                    })?;
                    requested_output = Some(n);
                    break;
                }
            }
        }
        let choices = match body.get("n") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|&n| (1..=128).contains(&n))
                .ok_or_else(|| bad(format!("`n` must be an integer from 1 to 128, got {v}")))?,
        };
        let tier = match body.get("service_tier").and_then(Value::as_str) {
            Some("priority") => Tier::Priority,
            Some("batch") => Tier::Batch,
            _ => Tier::Standard,
        };
        Ok(ParsedRequest {
            format,
            model,
            stream,
            raw: raw.to_vec(),
            body: OnceLock::from(body),
            input_bound,
            input_exact: OnceLock::new(),
            tokenizer,
            requested_output,
            choices,
            tier,
            modified: false,
            rewritten: false,
            inputs,
            unbounded_reserve: None,
        })
    }

    /// The JSON body (as rewritten by [`ParsedRequest::plan`] and
    /// [`ParsedRequest::ensure_stream_usage`]); parsed on first use.
    #[must_use]
    pub fn body(&self) -> &Map<String, Value> {
        self.body.get_or_init(|| parse_object(&self.raw))
    }

    fn body_mut(&mut self) -> &mut Map<String, Value> {
        if self.body.get().is_none() {
            let _ = self.body.set(parse_object(&self.raw));
        }
        self.body.get_mut().expect("the body was parsed just above")
    }

    /// Whether the body may ask for prompt caching (`cache_control` anywhere):
    /// a byte search, and only with `\u` escapes in the body a walk of the tree.
    fn mentions_cache_control(&self) -> bool {
        let has = |needle: &[u8]| memchr::memmem::find(&self.raw, needle).is_some();
        has(b"cache_control")
            || (has(b"\\u")
                && self
                    .body()
                    .values()
                    .any(|v| mentions_key(v, "cache_control")))
    }

    /// Input tokens counted exactly (counted on first use, then remembered):
    /// the text, plus what images, documents and tool prompts add (audio is
    /// apart, in [`Inputs::audio_tokens`]).
    #[must_use]
    pub fn input_tokens(&self) -> u64 {
        *self.input_exact.get_or_init(|| {
            // The bound walked the same structure, so counting cannot fail here.
            count_input(self.format, self.body(), self.tokenizer, true).map_or(
                self.input_bound,
                |n| {
                    u64::try_from(n)
                        .unwrap_or(u64::MAX)
                        .saturating_add(self.inputs.media_tokens + self.inputs.fixed_tokens)
                },
            )
        })
    }

    /// Admits a request whose cost has no bound by reserving `reserve` for
    /// what cannot be bounded (`None`: refuse such requests, the default).
    pub fn set_unbounded_reserve(&mut self, reserve: Option<Money>) {
        self.unbounded_reserve = reserve;
    }

    /// Input tokens to reserve for: the count plus 2% and 16 tokens for the
    /// provider's framing of tools and messages.
    #[must_use]
    pub fn reserved_input(&self) -> u64 {
        with_margin(self.input_tokens())
    }

    /// Prices the worst case against `table` and, when the caller set no
    /// maximum output, writes the largest output `available` can pay for
    /// (bounded by the model's maximum) into the body.
    ///
    /// # Errors
    /// Unknown model, unpriced tier, or a call that cannot fit in `available`.
    pub fn plan(&mut self, table: &PriceTable, available: Money) -> Result<Estimate, PlanError> {
        let resolved = table.lookup(&self.model).map_err(LlmError::from)?;
        self.plan_priced(resolved.name, resolved.price, available)
    }

    /// [`ParsedRequest::plan`] with the model's price already looked up.
    ///
    /// # Errors
    /// An unpriced tier, or a call that cannot fit in `available`.
    pub fn plan_priced(
        &mut self,
        name: &str,
        price: &ModelPrice,
        available: Money,
    ) -> Result<Estimate, PlanError> {
        let plan = self.worst_case(self.reserved_input(), name, price, available)?;
        Ok(self.apply(plan))
    }

    /// [`ParsedRequest::plan_priced`] on the input *bound*, without tokenizing,
    /// when that changes nothing but the amount reserved: the call fits with a
    /// wide margin (its worst case is at most a quarter of `available`) and its
    /// output is not capped by the budget, so the body sent is the one exact
    /// counting would send. `None` otherwise (then count and plan exactly).
    pub fn plan_bounded(
        &mut self,
        name: &str,
        price: &ModelPrice,
        available: Money,
    ) -> Option<Estimate> {
        let plan = self
            .worst_case(with_margin(self.input_bound), name, price, available)
            .ok()?;
        let roomy =
            plan.estimate.cost.micros().saturating_mul(BOUND_HEADROOM) <= available.micros();
        (roomy && !plan.budget_capped).then(|| self.apply(plan))
    }

    fn apply(&mut self, plan: Plan) -> Estimate {
        if let Some(per_choice) = plan.write {
            let key = match self.format {
                ApiFormat::ChatCompletions => "max_completion_tokens",
                ApiFormat::Responses => "max_output_tokens",
                _ => "max_tokens",
            };
            self.body_mut()
                .insert(key.to_owned(), Value::from(per_choice));
            self.modified = true;
        }
        plan.estimate
    }

    fn worst_case(
        &self,
        input: u64,
        name: &str,
        price: &ModelPrice,
        available: Money,
    ) -> Result<Plan, PlanError> {
        let extra = &self.inputs;
        // No call is billed more text than the model's context window holds, and
        // context added by reference is bounded by it alone. Media tokens are
        // priced apart from it (gpt-4o-mini bills an image as ~33x its size), so
        // they are never capped.
        let media = extra.media_tokens.min(input);
        let text = input - media;
        let input = match (price.context_window.map(u64::from), &extra.pulls_context) {
            (Some(window), Some(_)) => window.max(text) + media,
            (Some(window), None) => text.min(window) + media,
            (None, Some(field)) => {
                return Err(PlanError::Unbounded {
                    why: format!("{field} adds context of unknown size and the price table has no context_window for {name}")
                })
            }
            (None, None) => input,
        };
        let surcharge = match (&extra.unbounded, self.unbounded_reserve) {
            (None, _) => Money::ZERO,
            (Some(_), Some(reserve)) => reserve,
            (Some(why), None) => return Err(PlanError::Unbounded { why: why.clone() }),
        };
        let probe = Usage {
            input,
            ..Usage::default()
        };
        let rates = price
            .rates_for(name, self.tier, &probe)
            .map_err(LlmError::from)?;
        let input_rate = if price.provider == Provider::Anthropic && self.mentions_cache_control() {
            // Cache writes cost more than plain input on Anthropic.
            rates
                .input
                .max(rates.cache_write_5m)
                .max(rates.cache_write_1h)
        } else {
            rates.input
        };
        let unpriced = |kind: &str| {
            PlanError::Llm(LlmError::BadRequest(format!(
                "the request carries {kind} but the price table has no {kind} rate for {name}; add `{kind}` (USD per 1M tokens) for it in a price file (IRON_CAGE_PRICES)"
            )))
        };
        if extra.audio_tokens > 0 && rates.audio_input == 0 {
            return Err(unpriced("audio_input"));
        }
        let output_rate = if extra.audio_output {
            if rates.audio_output == 0 {
                return Err(unpriced("audio_output"));
            }
            rates.output.max(rates.audio_output)
        } else {
            rates.output
        };
        // What the call costs before its output: input, audio, the output the
        // request adds itself, and any stated reserve.
        let input_scaled = u128::from(input) * u128::from(input_rate)
            + u128::from(extra.audio_tokens) * u128::from(rates.audio_input)
            + u128::from(extra.extra_output) * u128::from(output_rate)
            + u128::from(surcharge.micros()) * 1_000_000;
        let cost_of = |output: u64| -> Money {
            let scaled = input_scaled + u128::from(output) * u128::from(output_rate);
            Money::from_micros(u64::try_from(scaled.div_ceil(1_000_000)).unwrap_or(u64::MAX))
        };
        // A fixed output (none for embeddings, or what the caller set) fits or not.
        let fixed = |output: u64| -> Result<Plan, PlanError> {
            let cost = cost_of(output);
            if cost > available {
                return Err(PlanError::Budget {
                    needed: cost,
                    available,
                });
            }
            Ok(Plan {
                estimate: Estimate {
                    input_tokens: input,
                    output_tokens: output,
                    cost,
                    capped: false,
                },
                write: None,
                budget_capped: false,
            })
        };
        if self.format == ApiFormat::Embeddings {
            return fixed(0);
        }
        let model_max = price
            .max_output_tokens
            .map_or(UNKNOWN_MAX_OUTPUT, u64::from);
        if let Some(per_choice) = self.requested_output {
            return fixed(per_choice.saturating_mul(self.choices));
        }
        // The largest output per choice the budget pays for.
        let budget_scaled = u128::from(available.micros()) * 1_000_000;
        let affordable = if output_rate == 0 {
            model_max
        } else {
            let left = budget_scaled.saturating_sub(input_scaled);
            let total = left / u128::from(output_rate);
            u64::try_from(total / u128::from(self.choices)).unwrap_or(u64::MAX)
        };
        if budget_scaled < input_scaled || affordable == 0 {
            return Err(PlanError::Budget {
                needed: cost_of(self.choices),
                available,
            });
        }
        let per_choice = affordable.min(model_max);
        let must_write = self.format == ApiFormat::Messages || per_choice < model_max;
        let output = per_choice.saturating_mul(self.choices);
        Ok(Plan {
            estimate: Estimate {
                input_tokens: input,
                output_tokens: output,
                cost: cost_of(output),
                capped: must_write,
            },
            write: must_write.then_some(per_choice),
            budget_capped: per_choice < model_max,
        })
    }

    /// Asks an OpenAI Chat Completions stream to report usage in its last chunk
    /// (`stream_options.include_usage`); other formats always report it.
    /// Returns whether the body changed.
    pub fn ensure_stream_usage(&mut self) -> bool {
        if !self.stream || self.format != ApiFormat::ChatCompletions {
            return false;
        }
        let options = self
            .body_mut()
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if !options.is_object() {
            *options = Value::Object(Map::new());
        }
        let Some(map) = options.as_object_mut() else {
            return false;
        };
        if map.get("include_usage") == Some(&Value::Bool(true)) {
            return false;
        }
        map.insert("include_usage".into(), Value::Bool(true));
        self.modified = true;
        true
    }

    /// Marks the raw body as iron-cage's rewrite of the caller's (see
    /// [`ParsedRequest::rewritten`]).
    pub fn mark_rewritten(&mut self) {
        self.rewritten = true;
    }

    /// The body as received.
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Runs `f` on every string the request sends the model as text: message
    /// text and parts, system and developer prompts, tool results and call
    /// arguments, Responses input items, predicted outputs; never media
    /// payloads, ids, roles or names. `f` says whether it changed the string.
    /// Returns whether any changed (the body is then rewritten; parse
    /// [`ParsedRequest::to_bytes`] again to count what is now sent).
    pub fn rewrite_sent_text(&mut self, f: &mut dyn FnMut(&mut String) -> bool) -> bool {
        let fields = sent_text_fields(self.format);
        let mut changed = false;
        let body = self.body_mut();
        for field in fields {
            if let Some(v) = body.get_mut(*field) {
                changed |= walk_sent_text(v, f);
            }
        }
        if changed {
            self.modified = true;
        }
        changed
    }

    /// The (possibly rewritten) body as JSON bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.modified {
            serde_json::to_vec(self.body()).unwrap_or_default()
        } else {
            self.raw.clone()
        }
    }
}

/// Where a string the request sends as text is in the raw body: the bytes
/// between its quotes (`start..end`), and whether they are the text itself
/// (`plain`: no escapes) or need decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSpan {
    /// Just past the opening quote.
    pub start: usize,
    /// The closing quote.
    pub end: usize,
    /// The bytes between the quotes are the text (no escapes).
    pub plain: bool,
}

impl ParsedRequest {
    /// The strings [`ParsedRequest::rewrite_sent_text`] visits, found in the
    /// raw body without building a tree (same fields, same rules; a key
    /// repeated in an object is visited each time). `None` when the body was
    /// already rewritten or the reader cannot take it: then use the tree.
    #[must_use]
    pub fn sent_text_spans(&self) -> Option<Vec<TextSpan>> {
        if self.modified {
            return None;
        }
        let mut t = Tokens::new(&self.raw)?;
        if t.next()? != Token::Open(true) {
            return None;
        }
        let fields = sent_text_fields(self.format);
        let mut out = Vec::new();
        while let Some(key) = t.key()? {
            if fields.contains(&key.as_ref()) {
                let first = t.next()?;
                collect_spans(&mut t, first, &mut out)?;
            } else {
                t.skip()?;
            }
        }
        t.at_end().then_some(out)
    }
}

fn span_of(span: crate::skim::Span) -> TextSpan {
    TextSpan {
        start: span.at + 1,
        end: span.end - 1,
        plain: span.plain,
    }
}

/// The text spans of the value begun by `first`, as `walk_sent_text` visits them.
fn collect_spans(t: &mut Tokens<'_>, first: Token, out: &mut Vec<TextSpan>) -> Option<()> {
    match first {
        Token::Str(span) => out.push(span_of(span)),
        Token::Open(false) => loop {
            match t.next()? {
                Token::Close => break,
                item => collect_spans(t, item, out)?,
            }
        },
        Token::Open(true) => {
            while let Some(key) = t.key()? {
                if key == "source" {
                    collect_source(t, out)?;
                } else if NOT_SENT_TEXT.contains(&key.as_ref()) {
                    t.skip()?;
                } else {
                    let value = t.next()?;
                    collect_spans(t, value, out)?;
                }
            }
        }
        Token::Num(_) | Token::Literal(_) => {}
        Token::Key(_) | Token::Close => return None,
    }
    Some(())
}

/// An Anthropic document `source`: its `data` / `content` are text only for
/// `text` and `content` sources (the type may come after them).
fn collect_source(t: &mut Tokens<'_>, out: &mut Vec<TextSpan>) -> Option<()> {
    let first = t.next()?;
    if first != Token::Open(true) {
        return t.skip_rest(first);
    }
    let mut inner = Vec::new();
    let mut textual = false;
    while let Some(key) = t.key()? {
        match key.as_ref() {
            "type" => textual = matches!(t.text()?.as_deref(), Some("text" | "content")),
            "data" | "content" => {
                let value = t.next()?;
                collect_spans(t, value, &mut inner)?;
            }
            _ => t.skip()?,
        }
    }
    if textual {
        out.extend(inner);
    }
    Some(())
}

/// The top-level members of each format that carry the text a request sends.
fn sent_text_fields(format: ApiFormat) -> &'static [&'static str] {
    match format {
        ApiFormat::ChatCompletions => &["messages", "prediction"],
        ApiFormat::Messages => &["messages", "system"],
        ApiFormat::Responses => &["input", "instructions"],
        ApiFormat::Embeddings => &["input"],
    }
}

/// Members that carry no text the model reads (or carry media priced apart).
const NOT_SENT_TEXT: [&str; 21] = [
    "type",
    "id",
    "role",
    "name",
    "model",
    "cache_control",
    "image_url",
    "input_audio",
    "file",
    "file_data",
    "file_id",
    "file_url",
    "audio",
    "call_id",
    "tool_call_id",
    "tool_use_id",
    "signature",
    "encrypted_content",
    "detail",
    "format",
    "status",
];

fn walk_sent_text(v: &mut Value, f: &mut dyn FnMut(&mut String) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| walk_sent_text(item, f) | changed),
        Value::Object(map) => {
            let mut changed = false;
            for (key, value) in map.iter_mut() {
                if key == "source" {
                    // An Anthropic document's text (`text` / `content` sources) is sent as text.
                    let textual = matches!(
                        value.get("type").and_then(Value::as_str),
                        Some("text" | "content")
                    );
                    if textual {
                        for inner in ["data", "content"] {
                            if let Some(x) = value.get_mut(inner) {
                                changed |= walk_sent_text(x, f);
                            }
                        }
                    }
                } else if !NOT_SENT_TEXT.contains(&key.as_str()) {
                    changed |= walk_sent_text(value, f);
                }
            }
            changed
        }
        _ => false,
    }
}

fn mentions_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| mentions_key(x, key)),
        Value::Array(a) => a.iter().any(|x| mentions_key(x, key)),
        _ => false,
    }
}

/// Input tokens plus the margin for the provider's framing.
fn with_margin(tokens: u64) -> u64 {
    tokens + tokens / 50 + 16
}

/// The input tokens of `body`: counted (`exact`) or bounded by byte lengths.
fn count_input(
    format: ApiFormat,
    body: &Map<String, Value>,
    tok: Tokenizer,
    exact: bool,
) -> Result<usize, LlmError> {
    let count_text = |s: &str| {
        if exact {
            tok.count_text(s)
        } else {
            tok.bound_text(s)
        }
    };
    let count_messages = |m: &Value| {
        if exact {
            tok.count_messages(m)
        } else {
            tok.bound_messages(m)
        }
        .map_err(|e| bad(e.to_string()))
    };
    let text_of = |v: &Value| -> usize {
        match v {
            Value::String(s) => count_text(s),
            Value::Null => 0,
            other => count_text(&other.to_string()),
        }
    };
    // Tools and structured-output schemas are sent to the model as text.
    let tools = ["tools", "response_format", "text", "output_format"]
        .iter()
        .map(|k| body.get(*k).map_or(0, text_of))
        .sum::<usize>();
    Ok(match format {
        ApiFormat::ChatCompletions => {
            let messages = body.get("messages").ok_or_else(|| {
                bad("the request has no `messages`; send a list like [{\"role\": \"user\", \"content\": \"hi\"}]")
            })?;
            count_messages(messages)? + tools
        }
        ApiFormat::Messages => {
            let messages = body.get("messages").ok_or_else(|| {
                bad("the request has no `messages`; send a list like [{\"role\": \"user\", \"content\": \"hi\"}]")
            })?;
            count_messages(messages)? + body.get("system").map_or(0, text_of) + tools
        }
        ApiFormat::Responses => {
            let input = match body.get("input") {
                None | Some(Value::Null) => 0,
                Some(Value::String(s)) => count_text(s),
                Some(v @ Value::Array(items)) if items.iter().all(Value::is_object) => {
                    count_messages(v)?
                }
                Some(Value::Array(_)) => {
                    return Err(bad(
                        "`input` must be a string or a list of input items (objects)",
                    ))
                }
                Some(_) => return Err(bad("`input` must be a string or a list of input items")),
            };
            input + body.get("instructions").map_or(0, text_of) + tools
        }
        ApiFormat::Embeddings => match body.get("input") {
            Some(Value::String(s)) => count_text(s),
            Some(Value::Array(items)) => {
                let mut n = 0;
                for item in items {
                    n += match item {
                        Value::String(s) => count_text(s),
                        Value::Number(_) => 1,
                        Value::Array(ids) => ids.len(),
                        _ => return Err(bad("`input` items must be strings or token arrays")),
                    };
                }
                n
            }
            _ => {
                return Err(bad(
                    "the embeddings request needs `input`: a string or a list of strings",
                ))
            }
        },
    })
}

/// A request body parsed without a tree (unparsed bodies are `{}`, never
/// reached: the skim only takes what the tree accepts).
fn parse_object(raw: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(raw).unwrap_or_default()
}

/// What [`skim_request`] reads.
struct RequestFields {
    model: String,
    stream: bool,
    requested_output: Option<u64>,
    choices: u64,
    tier: Tier,
    /// Input size in bound units (see [`Tokenizer::bound_units`]).
    input_units: usize,
    /// An Anthropic request with client tools (a tool-use system prompt is added).
    anthropic_tools: bool,
}

/// Keys of a part that carry no text (the counter skips them too).
const NOT_TEXT: [&str; 2] = ["id", "cache_control"];

/// Keys of parts that carry media, files or references: such requests are
/// read through the tree, where [`inputs::scan`] prices them.
const MEDIA_KEYS: [&str; 8] = [
    "image_url",
    "source",
    "input_audio",
    "file",
    "file_data",
    "file_id",
    "file_url",
    "audio",
];

/// The fields of a well-formed request read in one pass without building a
/// tree, with the input's size bounded by byte lengths. `None` for anything
/// the tree path would refuse or word an error about (it then runs instead).
fn skim_request(format: ApiFormat, body: &[u8]) -> Option<RequestFields> {
    let mut t = Tokens::new(body)?;
    if !matches!(t.next()?, Token::Open(true)) {
        return None;
    }
    let (mut model, mut stream, mut n, mut tier) = (None, Ok(false), Field::Null, None);
    let (mut max_completion, mut max_tokens, mut max_output) =
        (Field::Null, Field::Null, Field::Null);
    let (mut messages, mut input, mut system, mut instructions) = (None, None, 0, 0);
    let (mut tools, mut tool_count, mut schemas) = (0, 0, 0);
    let wants_messages = matches!(format, ApiFormat::ChatCompletions | ApiFormat::Messages);
    let wants_input = matches!(format, ApiFormat::Responses | ApiFormat::Embeddings);
    while let Some(key) = t.key()? {
        match key.as_ref() {
            "model" => model = Some(t.text()?),
            "stream" => {
                stream = match t.peek()? {
                    b't' => Ok(true),
                    b'f' | b'n' => Ok(false),
                    _ => Err(()),
                };
                t.skip()?;
            }
            "n" => n = field(&mut t)?,
            "max_completion_tokens" => max_completion = field(&mut t)?,
            "max_tokens" => max_tokens = field(&mut t)?,
            "max_output_tokens" => max_output = field(&mut t)?,
            "service_tier" => tier = t.text()?,
            "tools" => (tools, tool_count) = tools_units(&mut t, format)?,
            "response_format" | "text" | "output_format" => schemas += serialized_units(&mut t)?,
            // Context by reference, audio, server-side tools and predicted outputs
            // are priced from the tree.
            "modalities"
            | "audio"
            | "web_search_options"
            | "previous_response_id"
            | "conversation"
            | "prompt"
            | "mcp_servers"
            | "prediction" => return None,
            "system" => system = serialized_units(&mut t)?,
            "instructions" => instructions = serialized_units(&mut t)?,
            "messages" if wants_messages => messages = Some(messages_units(&mut t)?),
            "input" if wants_input => input = Some(input_units(&mut t, format)?),
            _ => t.skip()?,
        }
    }
    if !t.at_end() {
        return None;
    }
    let model = model?
        .filter(|m| !m.chars().all(char::is_whitespace))?
        .into_owned();
    let stream = stream.ok()?;
    let positive = |f: Field| match f {
        Field::Null => Some(None),
        Field::Unsigned(v) if v > 0 => Some(Some(v)),
        _ => None,
    };
    let requested_output = match format {
        ApiFormat::ChatCompletions => match positive(max_completion)? {
            Some(v) => Some(v),
            None => positive(max_tokens)?,
        },
        ApiFormat::Responses => positive(max_output)?,
        ApiFormat::Messages => positive(max_tokens)?,
        ApiFormat::Embeddings => None,
    };
    let choices = match n {
        Field::Null => 1,
        Field::Unsigned(v) if (1..=128).contains(&v) => v,
        _ => return None,
    };
    let tier = match tier.as_deref() {
        Some("priority") => Tier::Priority,
        Some("batch") => Tier::Batch,
        _ => Tier::Standard,
    };
    let input_units = match format {
        ApiFormat::ChatCompletions => messages? + tools + schemas,
        ApiFormat::Messages => messages? + system + tools + schemas,
        ApiFormat::Responses => input.unwrap_or(0) + instructions + tools + schemas,
        ApiFormat::Embeddings => input?,
    };
    Some(RequestFields {
        model,
        stream,
        requested_output,
        choices,
        tier,
        input_units,
        anthropic_tools: format == ApiFormat::Messages && tool_count > 0,
    })
}

/// The next value read as a count (a number as a tree holds it, else its kind).
fn field(t: &mut Tokens<'_>) -> Option<Field> {
    let first = t.next()?;
    t.field_rest(first)
}

/// Bound units of a value counted as its JSON text (`tools`, a non-string
/// `system`): its bytes as sent, plus room for numbers a tree re-serialises
/// longer (`1e5` becomes `100000.0`).
fn serialized_units(t: &mut Tokens<'_>) -> Option<usize> {
    if t.peek()? == b'n' {
        t.skip()?;
        return Some(0);
    }
    let (len, numbers) = t.skip_span()?;
    Some(len + 24 * numbers)
}

/// Bound units of `tools` (as its JSON text) and how many there are: client
/// tools only (`type` function or custom, or none), else `None` (the tree
/// prices the others).
fn tools_units(t: &mut Tokens<'_>, format: ApiFormat) -> Option<(usize, usize)> {
    if t.peek()? == b'n' {
        t.skip()?;
        return Some((0, 0));
    }
    if !matches!(t.next()?, Token::Open(false)) {
        return None;
    }
    let (mut units, mut count) = (2, 0);
    while t.more()? {
        if !matches!(t.next()?, Token::Open(true)) {
            return None;
        }
        count += 1;
        units += 3;
        while let Some(key) = t.key()? {
            // Quotes, colon and comma; a key re-escaped at most doubles.
            units += 2 * key.len() + 4;
            if key == "type" {
                let kind = t.text()??;
                let client = match format {
                    ApiFormat::Messages => kind == "custom",
                    _ => kind == "function" || kind == "custom",
                };
                if !client {
                    return None;
                }
                units += 2 * kind.len() + 2;
            } else {
                let (len, numbers) = t.skip_span()?;
                units += len + 24 * numbers;
            }
        }
    }
    Some((units, count))
}

/// Bound units of `messages`: a list of objects, else `None` (the tree words it).
fn messages_units(t: &mut Tokens<'_>) -> Option<usize> {
    if !matches!(t.next()?, Token::Open(false)) {
        return None;
    }
    let mut count = 0;
    let mut text = 0;
    while t.more()? {
        if !matches!(t.next()?, Token::Open(true)) {
            return None;
        }
        count += 1;
        while let Some(key) = t.key()? {
            match key.as_ref() {
                // Responses items say what they are; only text items are read here.
                "type" => {
                    let kind = t.text()??;
                    if !inputs::is_text_type(&kind) {
                        return None;
                    }
                    text += kind.len();
                }
                "audio" => return None,
                _ => text += text_units(t)?,
            }
        }
    }
    Some(Tokenizer::message_units(count) + text)
}

/// The bytes of the text a message member carries (strings, lists, objects
/// but their `NOT_TEXT` members), as the counter walks it; a string's escaped
/// length bounds its decoded one.
fn text_units(t: &mut Tokens<'_>) -> Option<usize> {
    let mut n = 0;
    match t.peek()? {
        b'"' => n = t.skip_span()?.0,
        b'[' => {
            t.next()?;
            while t.more()? {
                n += text_units(t)?;
            }
        }
        b'{' => {
            t.next()?;
            while let Some(key) = t.key()? {
                let key = key.as_ref();
                if key == "type" {
                    // Media parts are priced from the tree.
                    if !t.text()?.is_some_and(|kind| inputs::is_text_type(&kind)) {
                        return None;
                    }
                } else if MEDIA_KEYS.contains(&key) {
                    return None;
                } else if NOT_TEXT.contains(&key) {
                    t.skip()?;
                } else {
                    n += text_units(t)?;
                }
            }
        }
        _ => t.skip()?,
    }
    Some(n)
}

/// Bound units of `input`: Responses (text or items) or embeddings.
fn input_units(t: &mut Tokens<'_>, format: ApiFormat) -> Option<usize> {
    match (format, t.peek()?) {
        (_, b'"') => t.skip_span().map(|(len, _)| len),
        (ApiFormat::Responses, b'n') => t.skip().map(|()| 0),
        (ApiFormat::Responses, b'[') => messages_units(t),
        (ApiFormat::Embeddings, b'[') => {
            t.next()?;
            let mut n = 0;
            while t.more()? {
                n += match t.peek()? {
                    b'"' => t.skip_span()?.0,
                    b'[' => {
                        t.next()?;
                        let mut ids = 0;
                        while t.more()? {
                            ids += 1;
                            t.skip()?;
                        }
                        ids
                    }
                    b'-' | b'0'..=b'9' => t.skip().map(|()| 1)?,
                    _ => return None,
                };
            }
            Some(n)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(format: ApiFormat, v: &Value) -> ParsedRequest {
        ParsedRequest::parse(format, v.to_string().as_bytes()).expect("parses")
    }

    #[test]
    fn bounded_plan_sends_what_the_exact_plan_sends() {
        let table = PriceTable::embedded();
        let price = table.lookup("claude-sonnet-4-5").expect("priced");
        let text = "Summarise the quarterly report in one sentence, please.";
        let body =
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": text}]});
        let mut bounded = parse(ApiFormat::Messages, &body);
        let mut exact = bounded.clone();
        assert!(bounded.input_bound >= bounded.input_tokens());
        let roomy = Money::from_micros(100_000_000);
        let b = bounded
            .plan_bounded(price.name, price.price, roomy)
            .expect("room to spare: no exact count needed");
        let e = exact
            .plan_priced(price.name, price.price, roomy)
            .expect("fits");
        // The same body goes upstream (Anthropic needs max_tokens: the model's maximum);
        // only the reservation is larger.
        assert_eq!(bounded.body(), exact.body());
        assert_eq!(b.output_tokens, e.output_tokens);
        assert!(b.input_tokens > e.input_tokens && b.cost >= e.cost);
        // Near the limit, or when the budget would cap the output, it declines and
        // leaves the body alone.
        let mut tight = parse(ApiFormat::Messages, &body);
        assert!(tight
            .plan_bounded(
                price.name,
                price.price,
                Money::from_micros(b.cost.micros() * 2)
            )
            .is_none());
        assert!(tight
            .plan_bounded(price.name, price.price, Money::from_micros(1_000))
            .is_none());
        assert_eq!(tight.body(), body.as_object().expect("object"));
        assert!(!tight.modified);
    }

    #[test]
    fn caps_output_at_what_the_budget_pays() {
        let table = PriceTable::embedded();
        let mut r = parse(
            ApiFormat::ChatCompletions,
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        );
        // gpt-4o-mini: $0.15 in, $0.60 out per 1M; $0.001 leaves ~1,600 output tokens.
        let e = r.plan(table, Money::from_micros(1_000)).expect("fits");
        assert!(e.capped);
        let cap = r.body()["max_completion_tokens"].as_u64().expect("written");
        assert_eq!(cap, e.output_tokens);
        assert!(e.cost <= Money::from_micros(1_000));
        assert!(cap > 1_500 && cap < 1_700, "{cap}");
        // A plentiful budget leaves the request alone (the model maximum applies).
        let mut r2 = parse(
            ApiFormat::ChatCompletions,
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let e2 = r2
            .plan(table, Money::from_micros(100_000_000))
            .expect("fits");
        assert!(!e2.capped);
        assert_eq!(e2.output_tokens, 16_384);
        assert!(!r2.body().contains_key("max_completion_tokens"));
    }

    #[test]
    fn refuses_what_cannot_fit() {
        let table = PriceTable::embedded();
        let mut r = parse(
            ApiFormat::Messages,
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}),
        );
        let err = r
            .plan(table, Money::from_micros(100))
            .expect_err("too small");
        assert!(matches!(err, PlanError::Budget { .. }), "{err:?}");
    }

    #[test]
    fn stream_usage_added_once() {
        let mut r = parse(
            ApiFormat::ChatCompletions,
            &json!({"model": "gpt-4o", "stream": true, "messages": []}),
        );
        assert!(r.ensure_stream_usage());
        assert!(!r.ensure_stream_usage());
        assert_eq!(r.body()["stream_options"]["include_usage"], json!(true));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        for (body, needle) in [
            (&b"{not json"[..], "not valid JSON"),
            (b"[1]", "JSON object"),
            (b"{\"messages\": []}", "no `model`"),
            (b"{\"model\": \"gpt-4o\"}", "no `messages`"),
            (
                b"{\"model\": \"gpt-4o\", \"messages\": [], \"max_tokens\": -1}",
                "positive integer",
            ),
        ] {
            let err = ParsedRequest::parse(ApiFormat::ChatCompletions, body).expect_err("bad");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn skimmed_requests_read_as_the_tree_reads_them() {
        let values = [
            "null", "true", "false", "0", "5", "64", "-1", "2.0", "1e5", "129", "\"\"", "\" \"",
            "\"gpt-4o-mini\"", "\"claude-sonnet-4-5\"", "\"priority\"", "\"batch\"",
            "\"h\\u00e9llo \\\"quoted\\\" \\n\"", "\"日本語 text\"", "[]", "{}",
            "[{\"role\": \"user\", \"content\": \"hi\"}]",
            "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"data:x\"}}], \"name\": \"bob\"}]",
            "[{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}}]}]",
            "[{\"type\": \"function\", \"function\": {\"name\": \"lookup\", \"parameters\": {\"type\": \"object\", \"maxItems\": 1e5}}}]",
            "[\"a\", 5, [1, 2, 3]]", "[1, {}]", "[{\"role\": 1}]",
            "[{\"role\": \"user\", \"content\": \"x\", \"cache_control\": {\"type\": \"ephemeral\"}}]",
        ];
        let keys = [
            "model",
            "messages",
            "stream",
            "max_tokens",
            "max_completion_tokens",
            "max_output_tokens",
            "n",
            "service_tier",
            "tools",
            "system",
            "instructions",
            "input",
            "temperature",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            usize::try_from(x % m as u64).expect("small")
        };
        let formats = [
            ApiFormat::ChatCompletions,
            ApiFormat::Messages,
            ApiFormat::Responses,
            ApiFormat::Embeddings,
        ];
        let mut fast = 0;
        for case in 0..20_000 {
            let format = formats[case % 4];
            // A plausible request with a few members replaced or added at random.
            let mut members = vec![
                (
                    "model",
                    if format == ApiFormat::Messages {
                        values[13]
                    } else {
                        values[12]
                    },
                ),
                (
                    if matches!(format, ApiFormat::Responses | ApiFormat::Embeddings) {
                        "input"
                    } else {
                        "messages"
                    },
                    values[20 + next(3)],
                ),
            ];
            for _ in 0..next(5) {
                members.push((keys[next(keys.len())], values[next(values.len())]));
            }
            let body = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let tree = ParsedRequest::parse_tree(format, body.as_bytes());
            let Some(fields) = skim_request(format, body.as_bytes()) else {
                continue;
            };
            fast += 1;
            let tree = tree
                .unwrap_or_else(|e| panic!("the skim took what the tree refuses ({e}): {body}"));
            assert_eq!(
                (
                    &fields.model,
                    fields.stream,
                    fields.requested_output,
                    fields.choices,
                    fields.tier
                ),
                (
                    &tree.model,
                    tree.stream,
                    tree.requested_output,
                    tree.choices,
                    tree.tier
                ),
                "{body}"
            );
            let parsed = ParsedRequest::parse(format, body.as_bytes()).expect("parses");
            // The skim's bound (with what it adds for tools) covers the exact count.
            let bound = parsed.input_bound;
            assert!(
                bound >= tree.input_tokens(),
                "{bound} < {}: {body}",
                tree.input_tokens()
            );
            assert_eq!(parsed.inputs, tree.inputs, "{body}");
            assert_eq!(parsed.body(), tree.body(), "{body}");
            assert_eq!(parsed.input_tokens(), tree.input_tokens(), "{body}");
        }
        // Most plausible text requests take the fast path (a third of the
        // messages carry an image, which the tree prices).
        assert!(fast > 4_000, "{fast}");
    }

    #[test]
    fn anthropic_cache_writes_are_reserved_at_their_rate() {
        let table = PriceTable::embedded();
        let plain = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let cached = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]});
        // The key spelled with an escape is still seen (through the tree).
        let escaped = br#"{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache\u005fcontrol": {"type": "ephemeral"}}]}]}"#;
        let room = Money::from_micros(10_000_000);
        let cost = |r: &mut ParsedRequest| r.plan(table, room).expect("fits").cost;
        let base = cost(&mut parse(ApiFormat::Messages, &plain));
        assert!(cost(&mut parse(ApiFormat::Messages, &cached)) > base);
        let mut e = ParsedRequest::parse(ApiFormat::Messages, escaped).expect("parses");
        assert!(cost(&mut e) > base);
    }

    #[test]
    fn text_spans_are_the_strings_the_tree_walk_visits() {
        let bodies: &[(ApiFormat, &str)] = &[
            (
                ApiFormat::ChatCompletions,
                r#"{"model": "m", "messages": [{"role": "system", "name": "n", "content": "sys \"q\" \u00e9\n"},
                   {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:x"}}]},
                   {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": \"b\"}"}}]},
                   {"role": "tool", "tool_call_id": "c1", "content": "result"}], "prediction": {"type": "content", "content": "pred"},
                   "tools": [{"type": "function", "function": {"name": "f", "description": "not sent as text here"}}]}"#,
            ),
            (
                ApiFormat::Messages,
                r#"{"model": "claude", "max_tokens": 5, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
                   "messages": [{"role": "user", "content": [{"type": "document", "source": {"data": "doc text", "type": "text", "media_type": "text/plain"}},
                   {"type": "document", "source": {"type": "base64", "data": "QUJD"}},
                   {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "tr"}]}]},
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {"q": "in", "n": 1}}]}]}"#,
            ),
            (
                ApiFormat::Responses,
                r#"{"model": "m", "instructions": "be brief", "input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]},
                   {"type": "function_call_output", "call_id": "c", "output": "out"}], "metadata": {"k": "v"}}"#,
            ),
            (
                ApiFormat::Embeddings,
                r#"{"model": "e", "input": ["one", "two"]}"#,
            ),
        ];
        for (format, body) in bodies {
            let mut tree = ParsedRequest::parse(*format, body.as_bytes()).expect("parses");
            let spans = tree.sent_text_spans().expect("readable");
            let raw = std::str::from_utf8(tree.raw()).expect("utf-8").to_owned();
            let from_spans: Vec<String> = spans
                .iter()
                .map(|sp| {
                    let inner = &raw[sp.start..sp.end];
                    if sp.plain {
                        inner.to_owned()
                    } else {
                        serde_json::from_str(&format!("\"{inner}\"")).expect("a JSON string")
                    }
                })
                .collect();
            let mut visited = Vec::new();
            tree.rewrite_sent_text(&mut |text| {
                visited.push(text.clone());
                false
            });
            let (mut a, mut b) = (from_spans.clone(), visited.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{body}");
            assert!(!a
                .iter()
                .any(|t| t == "QUJD" || t == "not sent as text here" || t == "v"));
        }
    }
}
