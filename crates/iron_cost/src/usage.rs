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

use serde_json::Value;

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
}

impl Usage {
    /// All input-side tokens: uncached, cached and cache writes.
    #[must_use]
    pub fn total_input(&self) -> u64 {
        self.input + self.cached_input + self.cache_write_5m + self.cache_write_1h
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
        let has = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
        if has("prompt_tokens") || has("completion_tokens") {
            let prompt = count(usage, &["prompt_tokens"])?;
            let cached = count(usage, &["prompt_tokens_details", "cached_tokens"])?;
            let output = count(usage, &["completion_tokens"])?;
            let reasoning = count(usage, &["completion_tokens_details", "reasoning_tokens"])?;
            return openai(
                prompt,
                cached,
                output,
                reasoning,
                "prompt_tokens",
                "completion_tokens",
            );
        }
        if has("input_tokens") || has("output_tokens") {
            let anthropic_fields = has("cache_read_input_tokens")
                || has("cache_creation_input_tokens")
                || has("cache_creation");
            let responses_fields =
                has("input_tokens_details") || has("output_tokens_details") || has("total_tokens");
            if anthropic_fields || (!responses_fields && provider == Provider::Anthropic) {
                return anthropic(usage);
            }
            let input = count(usage, &["input_tokens"])?;
            let cached = count(usage, &["input_tokens_details", "cached_tokens"])?;
            let output = count(usage, &["output_tokens"])?;
            let reasoning = count(usage, &["output_tokens_details", "reasoning_tokens"])?;
            return openai(
                input,
                cached,
                output,
                reasoning,
                "input_tokens",
                "output_tokens",
            );
        }
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        Err(CostError::InvalidUsage(format!(
            "no token counts found (keys: {keys:?}); expected OpenAI prompt_tokens/completion_tokens, Responses input_tokens/output_tokens, or Anthropic input_tokens/output_tokens"
        )))
    }
}

fn openai(
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
    in_name: &str,
    out_name: &str,
) -> Result<Usage, CostError> {
    if cached > input {
        return Err(CostError::InvalidUsage(format!(
            "cached_tokens ({cached}) exceeds {in_name} ({input}); in OpenAI usage cached tokens are part of {in_name}"
        )));
    }
    if reasoning > output {
        return Err(CostError::InvalidUsage(format!(
            "reasoning_tokens ({reasoning}) exceeds {out_name} ({output}); in OpenAI usage reasoning tokens are part of {out_name}"
        )));
    }
    Ok(Usage {
        input: input - cached,
        cached_input: cached,
        output,
        reasoning,
        ..Usage::default()
    })
}

fn anthropic(usage: &Value) -> Result<Usage, CostError> {
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
    Ok(Usage {
        input,
        cached_input: read,
        cache_write_5m: w5,
        cache_write_1h: w1,
        output,
        reasoning: 0,
    })
}

fn count(root: &Value, path: &[&str]) -> Result<u64, CostError> {
    let mut v = root;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return Ok(0),
        }
    }
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(u)
            } else if n.as_i64().is_some() {
                Err(CostError::InvalidUsage(format!(
                    "{} is negative ({n}); token counts are zero or positive",
                    path.join(".")
                )))
            } else {
                match n.as_f64() {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as u64),
                    _ => Err(CostError::InvalidUsage(format!(
                        "{} is {n}; token counts are whole numbers",
                        path.join(".")
                    ))),
                }
            }
        }
        other => Err(CostError::InvalidUsage(format!(
            "{} is {}; token counts are integers",
            path.join("."),
            kind(other)
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
                reasoning: 0
            })
        );
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
