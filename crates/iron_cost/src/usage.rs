//! Provider usage objects, normalised to the token classes that are priced.
//!
//! The shapes differ in what "input" means, and getting that wrong bills cached
//! tokens twice or not at all:
//! - OpenAI Chat Completions: `prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens`;
//!   `completion_tokens` includes `completion_tokens_details.reasoning_tokens`.
//! - OpenAI Responses: `input_tokens` includes `input_tokens_details.cached_tokens`;
//!   `output_tokens` includes `output_tokens_details.reasoning_tokens`.
//! - Anthropic Messages: `input_tokens` EXCLUDES `cache_read_input_tokens` and
//!   `cache_creation_input_tokens` (split by `cache_creation.ephemeral_5m/1h_input_tokens`).

use serde_json::{Map, Value};

use crate::error::CostError;
use crate::prices::Provider;

/// Tokens by price class. `input` is uncached input only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens billed at the full input rate.
    pub input: u64,
    /// Input tokens read from the prompt cache.
    pub cached_input: u64,
    /// Input tokens written to a 5-minute cache (Anthropic).
    pub cache_write_5m: u64,
    /// Input tokens written to a 1-hour cache (Anthropic).
    pub cache_write_1h: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Of `output`, the reasoning tokens (reported, priced as output).
    pub reasoning: u64,
    /// Audio input tokens (apart from `input`), priced at the audio input rate.
    pub audio_input: u64,
    /// Of `output`, the audio tokens, priced at the audio output rate.
    pub audio_output: u64,
    /// Server-side web searches the provider ran and bills per use
    /// (Anthropic `server_tool_use.web_search_requests`).
    pub web_searches: u64,
}

impl Usage {
    /// All input-side tokens: uncached, cached, cache writes and audio.
    #[must_use]
    pub fn total_input(&self) -> u64 {
        self.input
            + self.cached_input
            + self.cache_write_5m
            + self.cache_write_1h
            + self.audio_input
    }

    /// Reads any of the three shapes. `provider` breaks the tie when an object
    /// has only `input_tokens`/`output_tokens` (both readings agree then anyway).
    ///
    /// # Errors
    /// Not an object, no known token fields, negative or non-integer counts, or
    /// cached tokens exceeding the input they are part of.
    pub fn from_json(usage: &Value, provider: Provider) -> Result<Usage, CostError> {
        let obj = usage.as_object().ok_or_else(|| {
            CostError::InvalidUsage(format!(
                "expected the provider's usage object (a dict), got {}",
                kind(usage)
            ))
        })?;
        Self::read(obj, provider)?.ok_or_else(|| {
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            CostError::InvalidUsage(format!(
                "no token counts found (keys: {keys:?}); {EXPECTED}"
            ))
        })
    }

    /// [`Usage::from_json`] over any reader of a usage object's fields (the
    /// same rules; used to read usage without building a JSON tree).
    ///
    /// # Errors
    /// As [`Usage::from_json`].
    pub fn from_fields(usage: &impl UsageFields, provider: Provider) -> Result<Usage, CostError> {
        Self::read(usage, provider)?
            .ok_or_else(|| CostError::InvalidUsage(format!("no token counts found; {EXPECTED}")))
    }

    /// `None` when the object has no known token fields.
    fn read(usage: &impl UsageFields, provider: Provider) -> Result<Option<Usage>, CostError> {
        let has = |k: &str| usage.field(&[k]).is_some_and(|f| f != Field::Null);
        if has("prompt_tokens") || has("completion_tokens") {
            let prompt = count(usage, &["prompt_tokens"])?;
            let cached = count(usage, &["prompt_tokens_details", "cached_tokens"])?;
            let output = count(usage, &["completion_tokens"])?;
            let reasoning = count(usage, &["completion_tokens_details", "reasoning_tokens"])?;
            let audio_in = count(usage, &["prompt_tokens_details", "audio_tokens"])?;
            let audio_out = count(usage, &["completion_tokens_details", "audio_tokens"])?;
            return openai(
                [prompt, cached, audio_in],
                [output, reasoning, audio_out],
                "prompt_tokens",
                "completion_tokens",
            )
            .map(Some);
        }
        if has("input_tokens") || has("output_tokens") {
            let anthropic_fields = has("cache_read_input_tokens")
                || has("cache_creation_input_tokens")
                || has("cache_creation");
            let responses_fields =
                has("input_tokens_details") || has("output_tokens_details") || has("total_tokens");
            if anthropic_fields || (!responses_fields && provider == Provider::Anthropic) {
                return anthropic(usage).map(Some);
            }
            let input = count(usage, &["input_tokens"])?;
            let cached = count(usage, &["input_tokens_details", "cached_tokens"])?;
            let output = count(usage, &["output_tokens"])?;
            let reasoning = count(usage, &["output_tokens_details", "reasoning_tokens"])?;
            let audio_in = count(usage, &["input_tokens_details", "audio_tokens"])?;
            let audio_out = count(usage, &["output_tokens_details", "audio_tokens"])?;
            return openai(
                [input, cached, audio_in],
                [output, reasoning, audio_out],
                "input_tokens",
                "output_tokens",
            )
            .map(Some);
        }
        Ok(None)
    }
}

const EXPECTED: &str = "expected OpenAI prompt_tokens/completion_tokens, Responses input_tokens/output_tokens, or Anthropic input_tokens/output_tokens";

/// A member of a usage object as JSON has it, reduced to what counting needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    /// `null`.
    Null,
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// Not a number: "a bool", "a string", "a list" or "an object".
    Other(&'static str),
}

/// Reads the members of a usage object by path (`["prompt_tokens"]`,
/// `["prompt_tokens_details", "cached_tokens"]`).
pub trait UsageFields {
    /// The member at `path`; `None` when it (or an object on the way) is absent
    /// or a step of the path is not an object.
    fn field(&self, path: &[&str]) -> Option<Field>;
}

impl UsageFields for Map<String, Value> {
    fn field(&self, path: &[&str]) -> Option<Field> {
        let (first, rest) = path.split_first()?;
        let mut v = self.get(*first)?;
        for key in rest {
            v = v.get(key)?;
        }
        Some(match v {
            Value::Null => Field::Null,
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Field::Unsigned(u),
                (None, Some(i)) => Field::Negative(i),
                _ => Field::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            other => Field::Other(kind(other)),
        })
    }
}

/// OpenAI usage: `[input, cached, audio]` and `[output, reasoning, audio]`,
/// where the details are parts of the totals.
fn openai(
    [input, cached, audio_in]: [u64; 3],
    [output, reasoning, audio_out]: [u64; 3],
    in_name: &str,
    out_name: &str,
) -> Result<Usage, CostError> {
    let part = |what: &str, part: u64, of: u64, name: &str| {
        if part > of {
            Err(CostError::InvalidUsage(format!(
                "{what} ({part}) exceeds {name} ({of}); in OpenAI usage they are part of {name}"
            )))
        } else {
            Ok(())
        }
    };
    part(
        "cached_tokens and audio_tokens",
        cached.saturating_add(audio_in),
        input,
        in_name,
    )?;
    part("reasoning_tokens", reasoning, output, out_name)?;
    part("audio_tokens", audio_out, output, out_name)?;
    Ok(Usage {
        input: input - cached - audio_in,
        cached_input: cached,
        output,
        reasoning,
        audio_input: audio_in,
        audio_output: audio_out,
        ..Usage::default()
    })
}

fn anthropic(usage: &impl UsageFields) -> Result<Usage, CostError> {
    let input = count(usage, &["input_tokens"])?;
    let read = count(usage, &["cache_read_input_tokens"])?;
    let creation = count(usage, &["cache_creation_input_tokens"])?;
    let w5 = count(usage, &["cache_creation", "ephemeral_5m_input_tokens"])?;
    let w1 = count(usage, &["cache_creation", "ephemeral_1h_input_tokens"])?;
    let split = w5 + w1;
    // The breakdown is authoritative when present; tokens it does not cover
    // (older responses report only the total) are billed as 5-minute writes.
    let (w5, w1) = if split >= creation {
        (w5, w1)
    } else {
        (w5 + (creation - split), w1)
    };
    let output = count(usage, &["output_tokens"])?;
    let web_searches = count(usage, &["server_tool_use", "web_search_requests"])?;
    Ok(Usage {
        input,
        cached_input: read,
        cache_write_5m: w5,
        cache_write_1h: w1,
        output,
        web_searches,
        ..Usage::default()
    })
}

fn count(usage: &impl UsageFields, path: &[&str]) -> Result<u64, CostError> {
    match usage.field(path) {
        None | Some(Field::Null) => Ok(0),
        Some(Field::Unsigned(u)) => Ok(u),
        Some(Field::Negative(n)) => Err(CostError::InvalidUsage(format!(
            "{} is negative ({n}); token counts are zero or positive",
            path.join(".")
        ))),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(Field::Float(f)) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as u64),
        Some(Field::Float(f)) => Err(CostError::InvalidUsage(format!(
            "{} is {f}; token counts are whole numbers",
            path.join(".")
        ))),
        Some(Field::Other(kind)) => Err(CostError::InvalidUsage(format!(
            "{} is {kind}; token counts are integers",
            path.join(".")
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_chat_cached_is_part_of_prompt() {
        let u = Usage::from_json(
            &json!({"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
                    "prompt_tokens_details": {"cached_tokens": 400, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 200}}),
            Provider::OpenAi,
        );
        assert_eq!(
            u,
            Ok(Usage {
                input: 600,
                cached_input: 400,
                output: 300,
                reasoning: 200,
                ..Usage::default()
            })
        );
    }

    #[test]
    fn anthropic_input_excludes_cache() {
        let u = Usage::from_json(
            &json!({"input_tokens": 50, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 300,
                    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
                    "output_tokens": 80}),
            Provider::Anthropic,
        );
        assert_eq!(
            u,
            Ok(Usage {
                input: 50,
                cached_input: 1000,
                cache_write_5m: 100,
                cache_write_1h: 200,
                output: 80,
                ..Usage::default()
            })
        );
    }

    #[test]
    fn openai_audio_is_part_of_the_totals() {
        let u = Usage::from_json(
            &json!({"prompt_tokens": 1000, "completion_tokens": 500,
                    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 600},
                    "completion_tokens_details": {"audio_tokens": 450}}),
            Provider::OpenAi,
        )
        .expect("reads");
        assert_eq!((u.input, u.cached_input, u.audio_input), (300, 100, 600));
        assert_eq!((u.output, u.audio_output), (500, 450));
        assert_eq!(u.total_input(), 1000);
        let over = json!({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 6, "audio_tokens": 6}});
        assert!(Usage::from_json(&over, Provider::OpenAi).is_err());
    }

    #[test]
    fn anthropic_web_searches_are_read() {
        let u = Usage::from_json(
            &json!({"input_tokens": 10, "output_tokens": 5, "server_tool_use": {"web_search_requests": 3}}),
            Provider::Anthropic,
        )
        .expect("reads");
        assert_eq!(u.web_searches, 3);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            json!([1]),
            json!({"foo": 1}),
            json!({"prompt_tokens": -3}),
            json!({"prompt_tokens": "7"}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}),
            json!({"input_tokens": 1.5}),
        ] {
            assert!(Usage::from_json(&bad, Provider::OpenAi).is_err(), "{bad}");
        }
    }
}
