//! OpenAI Chat Completions for Claude models: the request becomes an Anthropic
//! Messages request, the reply (JSON or SSE) becomes a Chat Completions reply.
//!
//! Mapped: `system`/`developer` messages → `system`; text content and text
//! parts; assistant `tool_calls` → `tool_use` blocks; `tool` messages →
//! `tool_result` blocks; function `tools` → Anthropic tools; `max_tokens` /
//! `max_completion_tokens` → `max_tokens`; `stop` → `stop_sequences`;
//! `temperature`, `top_p`, `stream`; stop reasons `end_turn`/`stop_sequence` →
//! `stop`, `max_tokens` → `length`, `tool_use` → `tool_calls`; usage →
//! `prompt_tokens` (cache reads and writes included), `completion_tokens`,
//! `prompt_tokens_details.cached_tokens`. Images and other part types are refused
//! with a clear error rather than dropped.

use serde_json::{json, Map, Value};

use crate::error::LlmError;
use crate::sse::{SseEvent, SseParser};

/// Default `max_tokens` when the request set none (Anthropic requires one; the
/// pipeline normally writes the budget cap first).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

fn bad(msg: impl Into<String>) -> LlmError {
    LlmError::BadRequest(msg.into())
}

/// Whether a Chat Completions request for `model` must be translated.
#[must_use]
pub fn is_claude(model: &str) -> bool {
    iron_cost::starts_with_ignore_case(iron_cost::model_tail(model), "claude")
}

fn text_of(content: &Value, role: &str) -> Result<String, LlmError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => out.push_str(p.get("text").and_then(Value::as_str).unwrap_or("")),
                    other => {
                        return Err(bad(format!(
                            "a {role} message has a content part of type {other:?}; only text parts can be sent to a Claude model through /v1/chat/completions (use /v1/messages for images and documents)"
                        )))
                    }
                }
            }
            Ok(out)
        }
        _ => Err(bad(format!(
            "a {role} message's content must be a string or a list of parts"
        ))),
    }
}

/// Translates a Chat Completions request body into an Anthropic Messages body.
///
/// # Errors
/// Messages or parts that have no Anthropic equivalent.
pub fn chat_request_to_messages(body: &Map<String, Value>) -> Result<Map<String, Value>, LlmError> {
    let mut out = Map::new();
    out.insert(
        "model".into(),
        body.get("model").cloned().unwrap_or(Value::Null),
    );
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    let list = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`messages` must be a list"))?;
    for m in list {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.push(text_of(content, role)?);
                continue;
            }
            "user" => (
                "user",
                vec![json!({"type": "text", "text": text_of(content, role)?})],
            ),
            "assistant" => {
                let mut blocks = Vec::new();
                let text = text_of(content, role)?;
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let f = call.get("function").cloned().unwrap_or(Value::Null);
                    let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
                    let input: Value = serde_json::from_str(args)
                        .map_err(|e| bad(format!("tool call arguments are not JSON: {e}")))?;
                    blocks.push(json!({"type": "tool_use", "id": call.get("id"), "name": f.get("name"), "input": input}));
                }
                ("assistant", blocks)
            }
            "tool" => (
                "user",
                vec![
                    json!({"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": text_of(content, role)?}),
                ],
            ),
            other => return Err(bad(format!("unknown message role {other:?}"))),
        };
        // Anthropic wants alternating roles: merge consecutive same-role messages.
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["content"].as_array_mut() {
                    existing.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    let max = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max));
    match body.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    for key in ["temperature", "top_p", "stream"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let mapped: Vec<Value> = tools
            .iter()
            .filter_map(|t| t.get("function"))
            .map(|f| {
                json!({"name": f.get("name"), "description": f.get("description").cloned().unwrap_or(json!("")),
                       "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))})
            })
            .collect();
        out.insert("tools".into(), Value::Array(mapped));
    }
    Ok(out)
}

fn finish_reason(stop: Option<&str>) -> Value {
    match stop {
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        None => Value::Null,
        _ => json!("stop"),
    }
}

fn chat_usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let prompt = n("input_tokens") + cached + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": cached}})
}

/// Translates an Anthropic Messages reply into a Chat Completions reply.
#[must_use]
pub fn messages_response_to_chat(resp: &Value) -> Value {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in resp
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tool_calls.push(json!({"id": block.get("id"), "type": "function", "function": {
                "name": block.get("name"), "arguments": block.get("input").map_or("{}".to_owned(), Value::to_string)}})),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": resp.get("id"), "object": "chat.completion", "created": 0, "model": resp.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": finish_reason(resp.get("stop_reason").and_then(Value::as_str))}],
        "usage": chat_usage(resp.get("usage").unwrap_or(&Value::Null)),
    })
}

/// Translates an Anthropic Messages event stream into Chat Completions chunks.
#[derive(Debug, Default)]
pub struct MessagesToChatStream {
    parser: SseParser,
    id: Value,
    model: Value,
    usage: Map<String, Value>,
    /// Anthropic content-block index -> OpenAI tool-call index.
    tool_index: std::collections::BTreeMap<u64, u64>,
}

impl MessagesToChatStream {
    /// A new translation.
    #[must_use]
    pub fn new() -> Self {
        MessagesToChatStream::default()
    }

    fn chunk_value(&self, choices: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": 0, "model": self.model, "choices": choices})
    }

    fn chunk(&self, choices: Value) -> String {
        SseEvent::encode(None, &self.chunk_value(choices).to_string())
    }

    /// Adds upstream bytes; returns Chat Completions SSE bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = String::new();
        for ev in self.parser.feed(bytes) {
            let Ok(data) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            match data.get("type").and_then(Value::as_str).unwrap_or("") {
                "message_start" => {
                    let msg = data.get("message").cloned().unwrap_or(Value::Null);
                    self.id = msg.get("id").cloned().unwrap_or(Value::Null);
                    self.model = msg.get("model").cloned().unwrap_or(Value::Null);
                    self.merge_usage(msg.get("usage"));
                    out.push_str(&self.chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])));
                }
                "content_block_start" => {
                    let block = data.get("content_block").cloned().unwrap_or(Value::Null);
                    if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                        let idx = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                        let n = u64::try_from(self.tool_index.len()).unwrap_or(u64::MAX);
                        self.tool_index.insert(idx, n);
                        out.push_str(&self.chunk(json!([{"index": 0, "finish_reason": null, "delta": {"tool_calls": [
                            {"index": n, "id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": ""}}]}}])));
                    }
                }
                "content_block_delta" => {
                    let delta = data.get("delta").cloned().unwrap_or(Value::Null);
                    if let Some(t) = delta.get("text").and_then(Value::as_str) {
                        out.push_str(&self.chunk(
                            json!([{"index": 0, "delta": {"content": t}, "finish_reason": null}]),
                        ));
                    } else if let Some(j) = delta.get("partial_json").and_then(Value::as_str) {
                        let idx = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                        let n = self.tool_index.get(&idx).copied().unwrap_or(0);
                        out.push_str(&self.chunk(
                            json!([{"index": 0, "finish_reason": null, "delta": {"tool_calls": [
                            {"index": n, "function": {"arguments": j}}]}}]),
                        ));
                    }
                }
                "message_delta" => {
                    self.merge_usage(data.get("usage"));
                    let stop = data
                        .get("delta")
                        .and_then(|d| d.get("stop_reason"))
                        .and_then(Value::as_str);
                    out.push_str(&self.chunk(
                        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason(stop)}]),
                    ));
                }
                "message_stop" => {
                    let mut last = self.chunk_value(json!([]));
                    last["usage"] = chat_usage(&Value::Object(self.usage.clone()));
                    out.push_str(&SseEvent::encode(None, &last.to_string()));
                    out.push_str("data: [DONE]\n\n");
                }
                "error" => out.push_str(&SseEvent::encode(
                    None,
                    &json!({"error": data.get("error")}).to_string(),
                )),
                _ => {}
            }
        }
        out.into_bytes()
    }

    fn merge_usage(&mut self, u: Option<&Value>) {
        if let Some(Value::Object(m)) = u {
            for (k, v) in m {
                if !v.is_null() {
                    self.usage.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_maps_roles_tools_and_limits() {
        let body = json!({"model": "claude-haiku-4-5", "max_completion_tokens": 50, "stop": "END", "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "rain"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]});
        let out = chat_request_to_messages(body.as_object().expect("object")).expect("translates");
        assert_eq!(out["system"], "Be brief.");
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        let msgs = out["messages"].as_array().expect("list");
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["content"][0]["input"]["city"], "Oslo");
        assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
        assert_eq!(out["tools"][0]["input_schema"]["type"], "object");
        let image = json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]});
        let err =
            chat_request_to_messages(image.as_object().expect("object")).expect_err("refused");
        assert!(err.to_string().contains("/v1/messages"), "{err}");
    }

    #[test]
    fn response_and_stream_map_back() {
        let resp = json!({"id": "m1", "model": "claude-haiku-4-5", "stop_reason": "max_tokens",
            "content": [{"type": "text", "text": "Hi"}],
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2, "output_tokens": 3}});
        let chat = messages_response_to_chat(&resp);
        assert_eq!(chat["choices"][0]["message"]["content"], "Hi");
        assert_eq!(chat["choices"][0]["finish_reason"], "length");
        assert_eq!(chat["usage"]["prompt_tokens"], 17);
        assert_eq!(chat["usage"]["prompt_tokens_details"]["cached_tokens"], 5);

        let events = [
            json!({"type": "message_start", "message": {"id": "m1", "model": "claude-haiku-4-5", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            json!({"type": "message_stop"}),
        ];
        let raw: String = events
            .iter()
            .map(|e| SseEvent::encode(None, &e.to_string()))
            .collect();
        let mut t = MessagesToChatStream::new();
        let out = String::from_utf8(t.feed(raw.as_bytes())).expect("utf8");
        let chunks: Vec<Value> = SseParser::new()
            .feed(out.as_bytes())
            .iter()
            .filter_map(|e| serde_json::from_str(&e.data).ok())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"]
                    .get(0)
                    .and_then(|ch| ch["delta"]["content"].as_str())
            })
            .collect();
        assert_eq!(text, "Hello");
        let last = chunks.last().expect("usage chunk");
        assert_eq!(last["usage"]["prompt_tokens"], 9);
        assert_eq!(last["usage"]["completion_tokens"], 2);
        assert!(out.ends_with("data: [DONE]\n\n"));
    }
}
