//! A streamed reply under governance: SSE events pass through in order, their
//! text deltas rewritten by a streaming PII scanner per output (choice, output
//! item or content block), usage accounted as it arrives, and the call charged
//! when the stream ends — from the provider's usage, or for an aborted stream
//! from the text already emitted.
//!
//! The scanner holds back a bounded tail ([`iron_safety::HOLD_BACK`] bytes) of
//! each output; it is released in a synthetic delta just before the event that
//! ends that output (`finish_reason`, `response.output_text.done`,
//! `content_block_stop`) or before `[DONE]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use iron_llm::stream::StreamUsage;
use iron_llm::{ApiFormat, SseEvent, SseParser};
use iron_safety::{Finding, ModeOf, Scanner, StreamScanner};
use serde_json::{json, Value};

use crate::egress::{PiiPolicy, StreamRestorer};
use crate::error::PipelineError;
use crate::pipeline::{pii_blocked, Call, Charge};

/// Rewrites one streamed reply. Feed it upstream bytes; send what it returns.
#[derive(Debug)]
pub struct StreamGuard {
    call: Call,
    parser: SseParser,
    usage: StreamUsage,
    scanners: BTreeMap<(u64, u64), StreamScanner>,
    /// Placeholder restoration per output, after the scanner.
    restorers: BTreeMap<(u64, u64), StreamRestorer>,
    findings: Vec<Finding>,
    blocked: bool,
    /// The reply policy and its scanner, taken when the stream starts.
    reply: Option<(Arc<PiiPolicy>, Arc<Scanner>)>,
    /// The last chat chunk, as a template for synthetic ones.
    chat_template: Option<Value>,
    /// The last Responses text delta event, as a template.
    responses_template: Option<Value>,
}

impl StreamGuard {
    pub(crate) fn new(call: Call) -> Self {
        let format = call.request().format;
        let reply = call.pipeline().ingress_policy();
        StreamGuard {
            reply,
            call,
            parser: SseParser::new(),
            usage: StreamUsage::new(format),
            scanners: BTreeMap::new(),
            restorers: BTreeMap::new(),
            findings: Vec::new(),
            blocked: false,
            chat_template: None,
            responses_template: None,
        }
    }

    /// Whether block mode stopped the stream (send nothing more upstream-wise).
    #[must_use]
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Adds upstream bytes; returns the bytes to send to the client now.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = String::new();
        if self.blocked {
            return Vec::new();
        }
        for ev in self.parser.feed(bytes) {
            self.event(ev, &mut out);
            if self.blocked {
                break;
            }
        }
        out.into_bytes()
    }

    /// Ends the stream. `upstream_complete` is false when the upstream broke
    /// off (connection error) and the breaker should count a failure. Returns
    /// the last bytes to send and what the call was charged.
    pub fn finish(mut self, upstream_complete: bool) -> (Vec<u8>, Charge) {
        let mut out = String::new();
        if !self.blocked {
            if let Some(ev) = self.parser.take_rest() {
                self.event(ev, &mut out);
            }
            if !self.blocked {
                self.flush_all(&mut out);
            }
        }
        if !upstream_complete {
            self.call.breaker_failure();
        }
        let (usage, exact) = self
            .usage
            .usage(self.call.counted_input(), self.call.tokenizer())
            .unwrap_or_else(|_| (self.call.estimated_usage(self.usage.emitted_text()), false));
        let blocked = self.blocked;
        let findings = std::mem::take(&mut self.findings);
        let policy = self.reply.as_ref().map(|(p, _)| Arc::clone(p));
        let charge = self
            .call
            .settle(usage, exact, &findings, policy.as_deref(), 200, blocked);
        (out.into_bytes(), charge)
    }

    fn scanning(&self) -> bool {
        self.reply.is_some() || !self.call.pipeline().pseudonyms().is_empty()
    }

    /// The text to emit after putting back placeholders (held back while one may be split).
    fn restore(&mut self, key: (u64, u64), text: String) -> String {
        let names = std::sync::Arc::clone(self.call.pipeline().pseudonyms());
        if names.is_empty() {
            return text;
        }
        self.restorers.entry(key).or_default().feed(&names, &text)
    }

    fn event(&mut self, ev: SseEvent, out: &mut String) {
        let mut data: Option<Value> = if ev.data.starts_with('{') {
            serde_json::from_str(&ev.data).ok()
        } else {
            None
        };
        self.usage.observe(&ev, data.as_ref());
        if !self.scanning() {
            out.push_str(&ev.raw);
            return;
        }
        if ev.data == "[DONE]" {
            self.flush_all(out);
            out.push_str(&ev.raw);
            return;
        }
        let Some(value) = data.as_mut() else {
            out.push_str(&ev.raw);
            return;
        };
        let changed = match self.call.request().format {
            ApiFormat::ChatCompletions => self.chat_event(value, out),
            ApiFormat::Responses => self.responses_event(value, out),
            ApiFormat::Messages => self.messages_event(value, out),
            ApiFormat::Embeddings => false,
        };
        if self.blocked {
            out.push_str(&self.block_event());
            return;
        }
        if changed {
            out.push_str(&SseEvent::encode(ev.event.as_deref(), &value.to_string()));
        } else {
            out.push_str(&ev.raw);
        }
    }

    /// Feeds `text` to the output `key`'s scanner; the text to emit.
    fn feed_text(&mut self, key: (u64, u64), text: &str) -> String {
        let Some((policy, scanner)) = self.reply.clone() else {
            return self.restore(key, text.to_owned());
        };
        let s = self.scanners.entry(key).or_insert_with(|| {
            let mode_of: ModeOf = Arc::new(move |e: &str| policy.reply_mode(e));
            StreamScanner::with_modes(scanner, Some(mode_of))
        });
        let before = s.findings().len();
        let safe = s.feed(text);
        let new: Vec<Finding> = s.findings()[before..].to_vec();
        let blocked = s.blocked();
        self.findings.extend(new);
        if blocked {
            self.blocked = true;
        }
        self.restore(key, safe)
    }

    fn finish_text(&mut self, key: (u64, u64)) -> String {
        let mut rest = String::new();
        if let Some(mut s) = self.scanners.remove(&key) {
            let before = s.findings().len();
            rest = s.finish();
            self.findings.extend(s.findings()[before..].iter().cloned());
            if s.blocked() {
                self.blocked = true;
            }
        }
        let mut out = self.restore(key, rest);
        if let Some(mut r) = self.restorers.remove(&key) {
            out.push_str(&r.finish(self.call.pipeline().pseudonyms()));
        }
        out
    }

    fn chat_event(&mut self, v: &mut Value, out: &mut String) -> bool {
        let Some(choices) = v.get("choices").and_then(Value::as_array).cloned() else {
            return false;
        };
        if choices.is_empty() {
            // The usage chunk: every output has ended.
            self.flush_all(out);
            return false;
        }
        let mut changed = false;
        let mut new_choices = Vec::with_capacity(choices.len());
        for mut c in choices {
            let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let mut text = None;
            if let Some(s) = c
                .get("delta")
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
            {
                text = Some(self.feed_text((idx, 0), s));
            }
            let finished = c.get("finish_reason").is_some_and(|f| !f.is_null());
            if finished {
                let rest = self.finish_text((idx, 0));
                if !rest.is_empty() || text.is_some() {
                    let mut t = text.take().unwrap_or_default();
                    t.push_str(&rest);
                    text = Some(t);
                }
            }
            if let Some(t) = text {
                if let Some(delta) = c.get_mut("delta").and_then(Value::as_object_mut) {
                    delta.insert("content".into(), Value::String(t));
                    changed = true;
                }
            }
            new_choices.push(c);
        }
        if changed {
            v["choices"] = Value::Array(new_choices);
        }
        let mut template = v.clone();
        template["choices"] = json!([]);
        template.as_object_mut().map(|m| m.remove("usage"));
        self.chat_template = Some(template);
        changed
    }

    fn responses_event(&mut self, v: &mut Value, out: &mut String) -> bool {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let key = (
            v.get("output_index").and_then(Value::as_u64).unwrap_or(0),
            v.get("content_index").and_then(Value::as_u64).unwrap_or(0),
        );
        match kind.as_str() {
            "response.output_text.delta" => {
                let delta = v
                    .get("delta")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let safe = self.feed_text(key, &delta);
                v["delta"] = Value::String(safe);
                self.responses_template = Some(v.clone());
                true
            }
            "response.output_text.done" => {
                let rest = self.finish_text(key);
                if !rest.is_empty() {
                    let mut synthetic = self.responses_template.clone().unwrap_or_else(|| {
                        json!({"type": "response.output_text.delta", "output_index": key.0, "content_index": key.1})
                    });
                    synthetic["delta"] = Value::String(rest);
                    out.push_str(&SseEvent::encode(
                        Some("response.output_text.delta"),
                        &synthetic.to_string(),
                    ));
                }
                if let Some(Value::String(text)) = v.get_mut("text") {
                    self.redact_whole(text);
                }
                true
            }
            _ => {
                let mut changed = false;
                redact_output_parts(v, &mut |text: &mut String| {
                    changed |= self.redact_whole(text);
                });
                changed
            }
        }
    }

    fn messages_event(&mut self, v: &mut Value, out: &mut String) -> bool {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind.as_str() {
            "content_block_delta" => {
                let Some(text) = v
                    .get("delta")
                    .filter(|d| d.get("type").and_then(Value::as_str) == Some("text_delta"))
                    .and_then(|d| d.get("text"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                else {
                    return false;
                };
                let safe = self.feed_text((idx, 0), &text);
                v["delta"]["text"] = Value::String(safe);
                true
            }
            "content_block_stop" => {
                let rest = self.finish_text((idx, 0));
                if !rest.is_empty() && !self.blocked {
                    let synthetic = json!({"type": "content_block_delta", "index": idx,
                                           "delta": {"type": "text_delta", "text": rest}});
                    out.push_str(&SseEvent::encode(
                        Some("content_block_delta"),
                        &synthetic.to_string(),
                    ));
                }
                false
            }
            "message_delta" | "message_stop" => {
                self.flush_all(out);
                false
            }
            _ => false,
        }
    }

    /// Releases every held-back tail as synthetic deltas.
    fn flush_all(&mut self, out: &mut String) {
        let mut keys: Vec<(u64, u64)> = self.scanners.keys().copied().collect();
        keys.extend(
            self.restorers
                .keys()
                .filter(|k| !self.scanners.contains_key(k)),
        );
        for key in keys {
            let rest = self.finish_text(key);
            if self.blocked {
                out.push_str(&self.block_event());
                return;
            }
            if rest.is_empty() {
                continue;
            }
            match self.call.request().format {
                ApiFormat::ChatCompletions => {
                    let mut chunk = self
                        .chat_template
                        .clone()
                        .unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                    chunk["choices"] = json!([{"index": key.0, "delta": {"content": rest}, "finish_reason": null}]);
                    out.push_str(&SseEvent::encode(None, &chunk.to_string()));
                }
                ApiFormat::Responses => {
                    let mut ev = self
                        .responses_template
                        .clone()
                        .unwrap_or_else(|| json!({"type": "response.output_text.delta"}));
                    ev["output_index"] = json!(key.0);
                    ev["content_index"] = json!(key.1);
                    ev["delta"] = Value::String(rest);
                    out.push_str(&SseEvent::encode(
                        Some("response.output_text.delta"),
                        &ev.to_string(),
                    ));
                }
                ApiFormat::Messages => {
                    let ev = json!({"type": "content_block_delta", "index": key.0, "delta": {"type": "text_delta", "text": rest}});
                    out.push_str(&SseEvent::encode(
                        Some("content_block_delta"),
                        &ev.to_string(),
                    ));
                }
                ApiFormat::Embeddings => {}
            }
        }
    }

    /// Redacts a whole text (already streamed piecewise) in place; findings are
    /// not counted again.
    fn redact_whole(&self, text: &mut String) -> bool {
        let Some((policy, scanner)) = &self.reply else {
            return false;
        };
        let result = scanner.scan_as(text, &|e| policy.reply_mode(e));
        if result.blocked || result.text == *text {
            return false;
        }
        *text = result.text;
        true
    }

    /// The refusal of a stream that block mode stopped (`None` while it runs).
    #[must_use]
    pub fn blocked_error(&self) -> Option<PipelineError> {
        self.is_blocked().then(|| pii_blocked(&self.findings))
    }

    fn block_event(&self) -> String {
        let err = pii_blocked(&self.findings);
        match self.call.request().format {
            ApiFormat::Messages => SseEvent::encode(Some("error"), &err.body(Some(ApiFormat::Messages)).to_string()),
            ApiFormat::Responses => SseEvent::encode(
                Some("error"),
                &json!({"type": "error", "code": err.code(), "message": err.to_string(), "param": null}).to_string(),
            ),
            _ => SseEvent::encode(None, &err.body(None).to_string()),
        }
    }
}

fn redact_output_parts(v: &mut Value, f: &mut impl FnMut(&mut String)) {
    match v {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("output_text") {
                if let Some(Value::String(s)) = map.get_mut("text") {
                    f(s);
                }
            }
            for (_, child) in map.iter_mut() {
                redact_output_parts(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_output_parts(item, f);
            }
        }
        _ => {}
    }
}
