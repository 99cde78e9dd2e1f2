//! Usage of a streamed response: what the provider reports, or — when the
//! stream is cut off before it reports — an estimate from what was emitted.
//!
//! - OpenAI Chat Completions: the last chunk (empty `choices`) carries `usage`
//!   when `stream_options.include_usage` is set (the pipeline sets it).
//! - OpenAI Responses: `response.completed` (or `.incomplete` / `.failed`)
//!   carries `response.usage`.
//! - Anthropic Messages: `message_start` carries the input side and a first
//!   output count; each `message_delta` carries the running output total.

use iron_cost::{Tokenizer, Usage};
use serde_json::{Map, Value};

use crate::error::LlmError;
use crate::format::ApiFormat;
use crate::sse::SseEvent;

/// Usage accounting over one stream.
#[derive(Debug)]
pub struct StreamUsage {
    format: ApiFormat,
    usage: Option<Map<String, Value>>,
    emitted: String,
    complete: bool,
}

impl StreamUsage {
    /// A new accounting for a stream in `format`.
    #[must_use]
    pub fn new(format: ApiFormat) -> Self {
        StreamUsage {
            format,
            usage: None,
            emitted: String::new(),
            complete: false,
        }
    }

    /// Records one event; `data` is its parsed JSON data, if it parsed.
    pub fn observe(&mut self, event: &SseEvent, data: Option<&Value>) {
        if event.data == "[DONE]" {
            self.complete = true;
            return;
        }
        let Some(data) = data else { return };
        for piece in text_deltas(self.format, data) {
            self.emitted.push_str(piece);
        }
        match self.format {
            ApiFormat::ChatCompletions | ApiFormat::Embeddings => {
                if let Some(Value::Object(u)) = data.get("usage") {
                    self.usage = Some(u.clone());
                }
            }
            ApiFormat::Responses => {
                let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
                if matches!(
                    kind,
                    "response.completed" | "response.incomplete" | "response.failed"
                ) {
                    if let Some(Value::Object(u)) =
                        data.get("response").and_then(|r| r.get("usage"))
                    {
                        self.usage = Some(u.clone());
                    }
                    self.complete = true;
                }
            }
            ApiFormat::Messages => {
                let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
                let found = match kind {
                    "message_start" => data.get("message").and_then(|m| m.get("usage")),
                    "message_delta" => data.get("usage"),
                    _ => None,
                };
                if let Some(Value::Object(u)) = found {
                    let merged = self.usage.get_or_insert_with(Map::new);
                    for (k, v) in u {
                        if !v.is_null() {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                }
                if kind == "message_stop" {
                    self.complete = true;
                }
            }
        }
    }

    /// Whether the stream ended the way the format ends.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Text and tool-call arguments emitted so far.
    #[must_use]
    pub fn emitted_text(&self) -> &str {
        &self.emitted
    }

    /// The usage to charge, and whether the provider reported it in full.
    /// When it did not (the stream was cut off, or usage was never sent), input
    /// is what the provider reported of it or else `counted_input`, and output
    /// is the larger of the reported running total and the tokens of the text
    /// already emitted.
    ///
    /// # Errors
    /// A usage object of no known shape.
    pub fn usage(
        &self,
        counted_input: u64,
        tokenizer: Tokenizer,
    ) -> Result<(Usage, bool), LlmError> {
        let emitted = u64::try_from(tokenizer.count_text(&self.emitted)).unwrap_or(u64::MAX);
        let reported = match &self.usage {
            Some(u) => Some(Usage::from_json(
                &Value::Object(u.clone()),
                self.format.provider(),
            )?),
            None => None,
        };
        let full = self.complete && reported.is_some();
        match reported {
            Some(u) if full => Ok((u, true)),
            Some(mut u) => {
                if u.total_input() == 0 {
                    u.input = counted_input;
                }
                u.output = u.output.max(emitted);
                Ok((u, false))
            }
            None => Ok((
                Usage {
                    input: counted_input,
                    output: emitted,
                    ..Usage::default()
                },
                false,
            )),
        }
    }
}

/// The generated text pieces one event carries (content and tool arguments).
#[must_use]
pub fn text_deltas(format: ApiFormat, data: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    match format {
        ApiFormat::ChatCompletions => {
            if let Some(choices) = data.get("choices").and_then(Value::as_array) {
                for c in choices {
                    let Some(delta) = c.get("delta") else {
                        continue;
                    };
                    if let Some(s) = delta.get("content").and_then(Value::as_str) {
                        out.push(s);
                    }
                    if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                        for call in calls {
                            if let Some(s) = call
                                .get("function")
                                .and_then(|f| f.get("arguments"))
                                .and_then(Value::as_str)
                            {
                                out.push(s);
                            }
                        }
                    }
                }
            }
        }
        ApiFormat::Responses => {
            let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
            if kind == "response.output_text.delta"
                || kind == "response.function_call_arguments.delta"
            {
                if let Some(s) = data.get("delta").and_then(Value::as_str) {
                    out.push(s);
                }
            }
        }
        ApiFormat::Messages => {
            if data.get("type").and_then(Value::as_str) == Some("content_block_delta") {
                if let Some(delta) = data.get("delta") {
                    for key in ["text", "partial_json", "thinking"] {
                        if let Some(s) = delta.get(key).and_then(Value::as_str) {
                            out.push(s);
                        }
                    }
                }
            }
        }
        ApiFormat::Embeddings => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use serde_json::json;

    fn run(format: ApiFormat, events: &[Value], done: bool) -> StreamUsage {
        let mut text = String::new();
        for e in events {
            text.push_str(&SseEvent::encode(None, &e.to_string()));
        }
        if done {
            text.push_str("data: [DONE]\n\n");
        }
        let mut acc = StreamUsage::new(format);
        for ev in SseParser::new().feed(text.as_bytes()) {
            let data: Option<Value> = serde_json::from_str(&ev.data).ok();
            acc.observe(&ev, data.as_ref());
        }
        acc
    }

    #[test]
    fn openai_final_usage_chunk() {
        let acc = run(
            ApiFormat::ChatCompletions,
            &[
                json!({"choices": [{"index": 0, "delta": {"content": "Hello"}}]}),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
                    "prompt_tokens_details": {"cached_tokens": 4}}}),
            ],
            true,
        );
        let (u, exact) = acc.usage(100, Tokenizer::O200kBase).expect("shape");
        assert!(exact);
        assert_eq!((u.input, u.cached_input, u.output), (5, 4, 2));
    }

    #[test]
    fn aborted_stream_is_charged_for_what_was_emitted() {
        let acc = run(
            ApiFormat::ChatCompletions,
            &[json!({"choices": [{"index": 0, "delta": {"content": "hello world"}}]})],
            false,
        );
        let (u, exact) = acc.usage(12, Tokenizer::O200kBase).expect("shape");
        assert!(!exact);
        assert_eq!((u.input, u.output), (12, 2));
    }

    #[test]
    fn anthropic_running_totals() {
        let acc = run(
            ApiFormat::Messages,
            &[
                json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "cache_read_input_tokens": 3, "output_tokens": 1}}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi there"}}),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}}),
                json!({"type": "message_stop"}),
            ],
            false,
        );
        let (u, exact) = acc.usage(0, Tokenizer::AnthropicEstimate).expect("shape");
        assert!(exact);
        assert_eq!((u.input, u.cached_input, u.output), (20, 3, 15));
    }

    #[test]
    fn responses_completed() {
        let acc = run(
            ApiFormat::Responses,
            &[
                json!({"type": "response.output_text.delta", "delta": "Hi"}),
                json!({"type": "response.completed", "response": {"usage": {"input_tokens": 8, "output_tokens": 3,
                    "output_tokens_details": {"reasoning_tokens": 1}}}}),
            ],
            false,
        );
        let (u, exact) = acc.usage(0, Tokenizer::O200kBase).expect("shape");
        assert!(exact);
        assert_eq!((u.input, u.output, u.reasoning), (8, 3, 1));
        assert_eq!(acc.emitted_text(), "Hi");
    }
}
