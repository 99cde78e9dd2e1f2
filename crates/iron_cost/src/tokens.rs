//! Token counting with the real BPE ranks (embedded by the `tiktoken-rs` crate,
//! never downloaded).
//!
//! OpenAI models are counted exactly: `o200k_base` for gpt-4o, gpt-4.1, gpt-5
//! and the o-series, `cl100k_base` for gpt-4, gpt-3.5 and embeddings. Anthropic
//! publishes no tokenizer for Claude 3+, so Claude counts are an ESTIMATE:
//! the `cl100k_base` count times 1.25, rounded up. Claude's tokenizer yields
//! more tokens than cl100k for the same text, so the estimate errs high, which
//! is the safe side for a budget reservation; the bill itself always comes from
//! the provider's reported usage.

use std::sync::OnceLock;

use serde_json::Value;

use crate::bpe_count::{BpeCounter, Split};
use crate::error::CostError;

/// Numerator and denominator of the Claude estimate factor (1.25).
const ANTHROPIC_FACTOR: (usize, usize) = (5, 4);
/// Tokens every chat message costs beyond its content (OpenAI cookbook).
const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token when a message carries a `name`.
const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING: usize = 3;

/// How a model's text becomes tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tokenizer {
    /// Exact: gpt-4o, gpt-4.1, gpt-5, o-series.
    O200kBase,
    /// Exact: gpt-4, gpt-3.5-turbo, text-embedding-*.
    Cl100kBase,
    /// Estimate for Claude models (see the module docs).
    AnthropicEstimate,
}

impl Tokenizer {
    /// `o200k_base`, `cl100k_base` or `anthropic_estimate`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "o200k_base" => Some(Tokenizer::O200kBase),
            "cl100k_base" => Some(Tokenizer::Cl100kBase),
            "anthropic_estimate" => Some(Tokenizer::AnthropicEstimate),
            _ => None,
        }
    }

    /// The tokenizer of a model by its family name; `None` if unknown.
    #[must_use]
    pub fn for_model(model: &str) -> Option<Self> {
        let m = model_tail(trim(model));
        let m = if starts_with_ignore_case(m, "anthropic.") {
            &m["anthropic.".len()..]
        } else {
            m
        };
        let starts = |p: &str| starts_with_ignore_case(m, p);
        if starts("gpt-4o")
            || starts("gpt-4.1")
            || starts("gpt-4.5")
            || starts("gpt-5")
            || starts("chatgpt-4o")
            || starts("o1")
            || starts("o3")
            || starts("o4")
            || starts("gpt-oss")
            || starts("codex")
        {
            Some(Tokenizer::O200kBase)
        } else if starts("gpt-4")
            || starts("gpt-3.5")
            || starts("gpt-35")
            || starts("text-embedding-")
        {
            Some(Tokenizer::Cl100kBase)
        } else if starts("claude") {
            Some(Tokenizer::AnthropicEstimate)
        } else {
            None
        }
    }

    /// Whether counts are exact (false for the Claude estimate).
    #[must_use]
    pub fn is_exact(self) -> bool {
        self != Tokenizer::AnthropicEstimate
    }

    /// The counter, built on first use (once, thread-safe): the rank tables
    /// are read from a transient `CoreBPE` that is dropped right after.
    #[allow(clippy::expect_used)]
    fn counter(self) -> &'static BpeCounter {
        static O200K: OnceLock<BpeCounter> = OnceLock::new();
        static CL100K: OnceLock<BpeCounter> = OnceLock::new();
        match self {
            Tokenizer::O200kBase => O200K.get_or_init(|| {
                BpeCounter::new(Split::O200k, || {
                    tiktoken_rs::o200k_base().expect("embedded o200k_base ranks")
                })
            }),
            Tokenizer::Cl100kBase | Tokenizer::AnthropicEstimate => CL100K.get_or_init(|| {
                BpeCounter::new(Split::Cl100k, || {
                    tiktoken_rs::cl100k_base().expect("embedded cl100k_base ranks")
                })
            }),
        }
    }

    fn raw(self, text: &str) -> usize {
        if text.is_empty() {
            0
        } else {
            self.counter().count(text)
        }
    }

    fn finish(self, n: usize) -> usize {
        match self {
            Tokenizer::AnthropicEstimate => (n * ANTHROPIC_FACTOR.0).div_ceil(ANTHROPIC_FACTOR.1),
            _ => n,
        }
    }

    /// Tokens in plain text (special-token text counted as ordinary text).
    #[must_use]
    pub fn count_text(self, text: &str) -> usize {
        self.finish(self.raw(text))
    }

    /// An upper bound of [`Tokenizer::count_text`] found without tokenizing:
    /// every BPE token is at least one byte, so a text has at most as many
    /// tokens as bytes. Cheap (no rank lookups), for reservations that only need
    /// to be safe.
    #[must_use]
    pub fn bound_text(self, text: &str) -> usize {
        self.finish(text.len())
    }

    /// Bound units of `messages` messages beyond their text: the reply priming
    /// and each message's overhead with a name. Add text bytes, then take
    /// [`Tokenizer::bound_units`].
    #[must_use]
    pub fn message_units(messages: usize) -> usize {
        REPLY_PRIMING + messages * (TOKENS_PER_MESSAGE + TOKENS_PER_NAME)
    }

    /// A token bound from bound units (text bytes plus [`Tokenizer::message_units`]),
    /// at least what [`Tokenizer::count_messages`] and [`Tokenizer::count_text`]
    /// give for the texts, summed (with room for rounding each part up).
    #[must_use]
    pub fn bound_units(self, units: usize) -> usize {
        self.finish(units) + 2
    }

    /// Tokens of a chat request's `messages` (OpenAI or Anthropic shape): every
    /// string value of each message, text content parts, tool call names and
    /// arguments, plus per-message overhead and the reply priming.
    ///
    /// # Errors
    /// `messages` is not a list of objects.
    pub fn count_messages(self, messages: &Value) -> Result<usize, CostError> {
        self.walk_messages(messages, &|s| self.raw(s))
    }

    /// An upper bound of [`Tokenizer::count_messages`] (each text counted as its
    /// byte length, see [`Tokenizer::bound_text`]); the same errors.
    ///
    /// # Errors
    /// `messages` is not a list of objects.
    pub fn bound_messages(self, messages: &Value) -> Result<usize, CostError> {
        self.walk_messages(messages, &str::len)
    }

    fn walk_messages(
        self,
        messages: &Value,
        raw: &dyn Fn(&str) -> usize,
    ) -> Result<usize, CostError> {
        let list = messages.as_array().ok_or_else(|| {
            CostError::InvalidMessages(
                "expected a list of message dicts like {\"role\": \"user\", \"content\": \"hi\"}"
                    .into(),
            )
        })?;
        let mut n = REPLY_PRIMING;
        for (i, msg) in list.iter().enumerate() {
            let obj = msg.as_object().ok_or_else(|| {
                CostError::InvalidMessages(format!("message {i} is not a dict; each message is like {{\"role\": \"user\", \"content\": \"hi\"}}"))
            })?;
            n += TOKENS_PER_MESSAGE;
            for (key, value) in obj {
                if key == "name" {
                    n += TOKENS_PER_NAME;
                }
                n += raw_value(value, raw);
            }
        }
        Ok(self.finish(n))
    }
}

/// The raw count of the text a message value carries.
fn raw_value(value: &Value, raw: &dyn Fn(&str) -> usize) -> usize {
    match value {
        Value::String(s) => raw(s),
        Value::Array(items) => items.iter().map(|v| raw_value(v, raw)).sum(),
        // Content parts, tool calls and function specs: count the text they carry
        // (media payloads are priced by their own rules, not as text).
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "type"
                        | "id"
                        | "cache_control"
                        | "image_url"
                        | "source"
                        | "file"
                        | "file_data"
                        | "input_audio"
                )
            })
            .map(|(_, v)| raw_value(v, raw))
            .sum(),
        _ => 0,
    }
}

/// The tokenizer for `model`.
///
/// # Errors
/// A model of no known family.
pub fn tokenizer_for(model: &str) -> Result<Tokenizer, CostError> {
    Tokenizer::for_model(model).ok_or_else(|| CostError::UnknownTokenizer {
        model: model.to_owned(),
    })
}

/// `model` without surrounding whitespace (no work when it has none).
fn trim(model: &str) -> &str {
    let b = model.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => model,
        _ => model.trim(),
    }
}

/// The part of a model name after its last `/` (`openai/gpt-4o` → `gpt-4o`).
#[must_use]
pub fn model_tail(model: &str) -> &str {
    match model.bytes().rposition(|b| b == b'/') {
        Some(i) => &model[i + 1..],
        None => model,
    }
}

/// `s` starts with `prefix`, ASCII letters compared without case (what
/// lower-casing both would say, without allocating).
#[must_use]
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_names_are_read_as_lower_casing_would() {
        // The allocation-free reading must pick what trimming, lower-casing and
        // splitting on `/` pick.
        let reference = |model: &str| {
            let m = model.trim().to_ascii_lowercase();
            let m = m.rsplit('/').next().unwrap_or(&m).to_owned();
            let m = m.strip_prefix("anthropic.").unwrap_or(&m).to_owned();
            Tokenizer::for_model(&m)
        };
        for model in [
            "gpt-4o-mini",
            "GPT-4O",
            " gpt-4 ",
            "\u{3000}gpt-3.5-turbo\u{2003}",
            "openai/GPT-5",
            "bedrock/Anthropic.Claude-3-5-sonnet",
            "ANTHROPIC.claude",
            "azure/deployments/gpt-35-turbo",
            "o1-preview",
            "O3",
            "text-embedding-3-small",
            "llama-3",
            "",
            "/",
            "gpt-4o/",
            "é-gpt-4o",
            "gpt-4é",
            "openai/gpt-4o\t",
        ] {
            assert_eq!(Tokenizer::for_model(model), reference(model), "{model:?}");
        }
        assert!(starts_with_ignore_case("Claude-X", "claude"));
        assert!(!starts_with_ignore_case("Clau", "claude"));
        assert!(!starts_with_ignore_case("Çlaude", "claude"));
        assert_eq!(model_tail("a/b/c"), "c");
        assert_eq!(model_tail("abc"), "abc");
        assert_eq!(model_tail("abc/"), "");
    }

    #[test]
    fn known_counts() {
        // Reference values from OpenAI's tiktoken.
        assert_eq!(Tokenizer::O200kBase.count_text("hello world"), 2);
        assert_eq!(Tokenizer::Cl100kBase.count_text("tiktoken is great!"), 6);
        assert_eq!(Tokenizer::O200kBase.count_text(""), 0);
    }

    #[test]
    fn fast_counter_equals_tiktoken_rs() {
        let samples = [
            "hello world",
            "a  b",
            "a   \n\n  b  ",
            "x\t\t y",
            "  leading",
            "trailing   ",
            "\u{3000}\u{3000}word",
            "don't WON'T it's",
            "1234567 89",
            "$12.50!!\n\n",
            "日本語 テキスト",
            "emoji 🤖🔥  ok",
            " \r\n \r\n x",
            "path/to/file\n/next",
            "  \n",
            "tab\t\n\tend",
            "Ünïcödé  Çase",
            "a\u{200b} b",
        ];
        for (t, core) in [
            (Tokenizer::O200kBase, tiktoken_rs::o200k_base_singleton()),
            (Tokenizer::Cl100kBase, tiktoken_rs::cl100k_base_singleton()),
        ] {
            for s in samples {
                assert_eq!(
                    t.count_text(s),
                    core.encode_ordinary(s).len(),
                    "{t:?} {s:?}"
                );
            }
        }
    }

    /// Seeded random text (xorshift) over ASCII words, code, whitespace runs,
    /// digits, CJK, emoji, combining marks and arbitrary scalar values, plus
    /// long runs that take the heap merge: counts equal tiktoken-rs's exactly.
    #[test]
    #[allow(clippy::cast_possible_truncation)]
    fn random_text_counts_equal_tiktoken_rs() {
        const PIECES: [&str; 24] = [
            "the",
            " Quick",
            "FOX",
            " ",
            "   ",
            "\n",
            "\r\n",
            "\t",
            "  \n ",
            "0",
            "42",
            "12345",
            "fn main() {",
            "}",
            "=>",
            "'s",
            "'LL",
            "日本語",
            "🤖",
            "e\u{301}",
            "\u{3000}",
            "ß",
            "//",
            "\u{a0}",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let cores = [
            (Tokenizer::O200kBase, tiktoken_rs::o200k_base_singleton()),
            (Tokenizer::Cl100kBase, tiktoken_rs::cl100k_base_singleton()),
        ];
        for round in 0..1_500 {
            let mut text = String::new();
            for _ in 0..(next() % 60) {
                let r = next();
                match r % 10 {
                    0 => text.push(char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('?')),
                    1 => text.push(char::from((r >> 8) as u8 % 0x80)),
                    _ => text.push_str(PIECES[(r >> 8) as usize % PIECES.len()]),
                }
            }
            if round % 50 == 0 {
                // One piece of a few hundred bytes: letters, digits-free punctuation.
                let unit = ["ab", "xyz", "%$", "é"][round / 50 % 4];
                text.push_str(&unit.repeat(60 + round % 200));
            }
            for (t, core) in cores {
                assert_eq!(
                    t.count_text(&text),
                    core.encode_ordinary(&text).len(),
                    "{t:?} {text:?}"
                );
            }
        }
    }

    #[test]
    fn families() {
        assert_eq!(tokenizer_for("gpt-4o-mini"), Ok(Tokenizer::O200kBase));
        assert_eq!(tokenizer_for("o3-mini"), Ok(Tokenizer::O200kBase));
        assert_eq!(tokenizer_for("gpt-4-turbo"), Ok(Tokenizer::Cl100kBase));
        assert_eq!(tokenizer_for("gpt-3.5-turbo"), Ok(Tokenizer::Cl100kBase));
        assert_eq!(
            tokenizer_for("claude-sonnet-4-5"),
            Ok(Tokenizer::AnthropicEstimate)
        );
        assert!(tokenizer_for("llama-3").is_err());
    }

    #[test]
    fn messages_include_overhead() {
        let msgs = json!([{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "hello world", "name": "bob"}]);
        let t = Tokenizer::O200kBase;
        let expected = 3
            + (3 + t.count_text("system") + t.count_text("You are helpful."))
            + (3 + t.count_text("user") + t.count_text("hello world") + 1 + t.count_text("bob"));
        assert_eq!(t.count_messages(&msgs), Ok(expected));
        assert!(t.count_messages(&json!({"role": "user"})).is_err());
    }

    #[test]
    fn bound_is_never_below_the_count() {
        // xorshift-generated strings over ASCII, whitespace runs, digits, CJK, emoji.
        const PIECES: [&str; 12] = [
            "a", "Z", " ", "  ", "\n\n", "\t", "7", "日本", "🤖", "'s", "é", "--",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            let mut text = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for i in 0..(x % 40) {
                text.push_str(PIECES[((x >> (i % 50)) % 12) as usize]);
            }
            let msgs = json!([{"role": "user", "content": text, "name": "n"}]);
            for t in [
                Tokenizer::O200kBase,
                Tokenizer::Cl100kBase,
                Tokenizer::AnthropicEstimate,
            ] {
                assert!(t.count_text(&text) <= t.bound_text(&text), "{t:?} {text:?}");
                assert!(
                    t.count_messages(&msgs).expect("counts")
                        <= t.bound_messages(&msgs).expect("bounds"),
                    "{t:?} {text:?}"
                );
            }
        }
        assert!(Tokenizer::O200kBase
            .bound_messages(&json!({"role": "user"}))
            .is_err());
    }
}
