//! JSON (non-streamed) responses: their usage and their text.

use iron_cost::{Provider, Usage};
use serde_json::Value;

use crate::error::LlmError;
use crate::format::ApiFormat;

/// The usage a response reports, normalised; `None` when it reports none.
///
/// # Errors
/// A usage object of no known shape.
pub fn usage_of(format: ApiFormat, body: &Value) -> Result<Option<Usage>, LlmError> {
    match body.get("usage") {
        None | Some(Value::Null) => Ok(None),
        Some(u) => Ok(Some(Usage::from_json(u, provider(format))?)),
    }
}

pub(crate) fn provider(format: ApiFormat) -> Provider {
    format.provider()
}

/// Calls `f` on every piece of generated text in a response body: chat
/// `choices[].message.content`, Responses `output[].content[]` of type
/// `output_text`, Anthropic `content[]` of type `text`.
pub fn for_each_text_mut(format: ApiFormat, body: &mut Value, mut f: impl FnMut(&mut String)) {
    match format {
        ApiFormat::ChatCompletions => {
            if let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) {
                for choice in choices {
                    if let Some(Value::String(s)) =
                        choice.get_mut("message").and_then(|m| m.get_mut("content"))
                    {
                        f(s);
                    }
                }
            }
        }
        ApiFormat::Responses => {
            if let Some(items) = body.get_mut("output").and_then(Value::as_array_mut) {
                for item in items {
                    output_item_texts(item, &mut f);
                }
            }
        }
        ApiFormat::Messages => {
            if let Some(blocks) = body.get_mut("content").and_then(Value::as_array_mut) {
                for block in blocks {
                    if block.get("type").and_then(Value::as_str) == Some("text") {
                        if let Some(Value::String(s)) = block.get_mut("text") {
                            f(s);
                        }
                    }
                }
            }
        }
        ApiFormat::Embeddings => {}
    }
}

/// Text parts of one Responses output item (`message` items' `output_text` parts).
pub fn output_item_texts(item: &mut Value, f: &mut impl FnMut(&mut String)) {
    if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
        for part in parts {
            if part.get("type").and_then(Value::as_str) == Some("output_text") {
                if let Some(Value::String(s)) = part.get_mut("text") {
                    f(s);
                }
            }
        }
    }
}

/// All generated text of a response, concatenated (for token estimates).
#[must_use]
pub fn text_of(format: ApiFormat, body: &Value) -> String {
    let mut copy = body.clone();
    let mut out = String::new();
    for_each_text_mut(format, &mut copy, |s| out.push_str(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_of_each_format() {
        let mut chat =
            json!({"choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]});
        let mut seen = Vec::new();
        for_each_text_mut(ApiFormat::ChatCompletions, &mut chat, |s| {
            seen.push(s.clone())
        });
        assert_eq!(seen, ["a", "b"]);
        let mut msg =
            json!({"content": [{"type": "text", "text": "x"}, {"type": "tool_use", "input": {}}]});
        for_each_text_mut(ApiFormat::Messages, &mut msg, |s| *s = "y".into());
        assert_eq!(msg["content"][0]["text"], "y");
        let resp = json!({"output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]});
        assert_eq!(text_of(ApiFormat::Responses, &resp), "hi");
    }

    #[test]
    fn usage_shapes() {
        let u = usage_of(
            ApiFormat::Messages,
            &json!({"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}}),
        )
        .expect("shape")
        .expect("present");
        assert_eq!((u.input, u.cached_input, u.output), (10, 5, 7));
        assert_eq!(
            usage_of(ApiFormat::ChatCompletions, &json!({})).expect("ok"),
            None
        );
    }
}
