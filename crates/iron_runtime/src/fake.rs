//! `FakeProvider`: an OpenAI- and Anthropic-compatible server on loopback for
//! tests, examples, benchmarks and the demo.
//!
//! Replies are deterministic; usage is reported exactly in each API's shape
//! (OpenAI `prompt_tokens_details.cached_tokens`/`audio_tokens` and
//! `completion_tokens_details.reasoning_tokens`/`audio_tokens`, Responses
//! `*_tokens_details`, Anthropic `cache_read_input_tokens`/`cache_creation_input_tokens`),
//! text counted with the same tokenizers iron-cage prices with, and images,
//! PDFs, audio and referenced context billed by the providers' published rules
//! (see `fake_billing`). Streams are split into small
//! pieces so values cross chunk boundaries. Faults and reply contents can be
//! scripted per request.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use iron_cost::Tokenizer;
use iron_llm::{ApiFormat, SseEvent};
use serde_json::{json, Value};

use crate::http::{channel, json_response, read_body, RespBody, ServerHandle};

/// A scripted fault for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` seconds, if set) and an error body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header value in seconds.
        retry_after: Option<u64>,
    },
    /// Stream this many chunks, then break the connection.
    Disconnect {
        /// Chunks sent before the cut.
        after_chunks: usize,
    },
}

/// Shared state of a fake provider.
#[derive(Debug, Default)]
pub struct FakeState {
    count: AtomicU64,
    latency_ms: AtomicU64,
    cached_tokens: AtomicU64,
    chunk_chars: AtomicU64,
    required_key: Mutex<Option<String>>,
    faults: Mutex<VecDeque<(u64, Fault)>>,
    next_replies: Mutex<VecDeque<String>>,
    replies_at: Mutex<HashMap<u64, String>>,
    log: Mutex<VecDeque<Value>>,
}

const LOG_LIMIT: usize = 1000;

/// A running fake provider.
#[derive(Debug)]
pub struct FakeProvider {
    server: ServerHandle,
    state: Arc<FakeState>,
}

impl FakeProvider {
    /// Starts on `127.0.0.1:port` (0: a free port). With `api_key`, requests
    /// must present it (`Authorization: Bearer` or `x-api-key`).
    ///
    /// # Errors
    /// The port cannot be bound.
    pub fn start(port: u16, api_key: Option<String>) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1", port, api_key)
    }

    /// Starts on `host:port`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn start_on(host: &str, port: u16, api_key: Option<String>) -> std::io::Result<Self> {
        let state = Arc::new(FakeState::default());
        state.chunk_chars.store(4, Ordering::Relaxed);
        *lock(&state.required_key) = api_key;
        let s = Arc::clone(&state);
        let server = ServerHandle::start(host, port, 1, move |req| handle(Arc::clone(&s), req))?;
        Ok(FakeProvider { server, state })
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// `http://127.0.0.1:<port>/v1`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The shared state (scripting and counters).
    #[must_use]
    pub fn state(&self) -> &Arc<FakeState> {
        &self.state
    }

    /// Whether it is serving.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// Stops serving.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

impl FakeState {
    /// Model requests received (every POST to a model endpoint, faulted or not).
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The next `times` requests get `fault`.
    pub fn push_fault(&self, fault: Fault, times: u64) {
        if times > 0 {
            lock(&self.faults).push_back((times, fault));
        }
    }

    /// Drops scripted faults not yet used.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Latency added before every reply.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Input tokens reported as read from the prompt cache (at most the input).
    pub fn set_cached_tokens(&self, tokens: u64) {
        self.cached_tokens.store(tokens, Ordering::Relaxed);
    }

    /// Characters per streamed piece (default 4).
    pub fn set_chunk_chars(&self, chars: u64) {
        self.chunk_chars.store(chars.max(1), Ordering::Relaxed);
    }

    /// The reply text of request number `n` (1-based), or of the next request
    /// without a scripted text when `n` is `None`.
    pub fn script_reply(&self, text: String, n: Option<u64>) {
        match n {
            Some(n) => {
                lock(&self.replies_at).insert(n, text);
            }
            None => lock(&self.next_replies).push_back(text),
        }
    }

    /// The last requests received (up to 1000): `{n, path, authorization, x_api_key, body}`.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.log).iter().cloned().collect()
    }

    fn take_fault(&self) -> Option<Fault> {
        let mut q = lock(&self.faults);
        let (left, fault) = q.front_mut()?;
        let f = fault.clone();
        *left -= 1;
        if *left == 0 {
            q.pop_front();
        }
        Some(f)
    }

    fn reply_for(&self, n: u64) -> Option<String> {
        if let Some(t) = lock(&self.replies_at).remove(&n) {
            return Some(t);
        }
        lock(&self.next_replies).pop_front()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn error(format: ApiFormat, status: u16, kind: &str, message: &str) -> Response<RespBody> {
    let body = if format == ApiFormat::Messages {
        json!({"type": "error", "error": {"type": kind, "message": message}})
    } else {
        json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
    };
    json_response(status, &body)
}

async fn handle(state: Arc<FakeState>, req: Request<Incoming>) -> Response<RespBody> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path.trim_end_matches('/').ends_with("/models") {
        let models: Vec<Value> = [
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-5-mini",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "text-embedding-3-small",
        ]
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "fake-provider"}))
        .collect();
        return json_response(200, &json!({"object": "list", "data": models}));
    }
    let Some(format) = ApiFormat::from_path(&path).filter(|_| req.method() == Method::POST) else {
        return error(
            ApiFormat::ChatCompletions,
            404,
            "not_found",
            &format!("no endpoint {} {path}", req.method()),
        );
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    let x_api_key = header("x-api-key");
    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
    let body = match read_body(req.into_body(), 64 << 20).await {
        Ok(Some(b)) => b,
        _ => {
            return error(
                format,
                400,
                "invalid_request_error",
                "could not read the body",
            )
        }
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    {
        let mut log = lock(&state.log);
        if log.len() == LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(json!({"n": n, "path": path, "authorization": authorization, "x_api_key": x_api_key, "body": parsed}));
    }
    let latency = state.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(key) = lock(&state.required_key).clone() {
        let presented = x_api_key
            .or_else(|| authorization.and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned)));
        if presented.as_deref() != Some(key.as_str()) {
            return error(format, 401, "authentication_error", "invalid api key");
        }
    }
    let fault = state.take_fault();
    if let Some(Fault::Status {
        status,
        retry_after,
    }) = fault
    {
        let mut r = error(
            format,
            status,
            "fake_fault",
            &format!("scripted fault: status {status}"),
        );
        if let Some(s) = retry_after {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
            }
        }
        return r;
    }
    let Value::Object(_) = parsed else {
        return error(
            format,
            400,
            "invalid_request_error",
            "the body is not a JSON object",
        );
    };
    let Some(model) = parsed
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(format, 400, "invalid_request_error", "missing model");
    };
    let reply = Reply::new(&state, format, &parsed, &model, n);
    let cut = match fault {
        Some(Fault::Disconnect { after_chunks }) => Some(after_chunks),
        _ => None,
    };
    if parsed.get("stream").and_then(Value::as_bool) == Some(true) {
        let chunk_chars = usize::try_from(state.chunk_chars.load(Ordering::Relaxed)).unwrap_or(4);
        let events = reply.stream_events(chunk_chars);
        let (tx, body) = channel();
        tokio::spawn(async move {
            for (i, ev) in events.into_iter().enumerate() {
                if cut == Some(i) {
                    let _ = tx
                        .send(Err(std::io::Error::other("scripted disconnect")))
                        .await;
                    return;
                }
                if tx.send(Ok(Bytes::from(ev))).await.is_err() {
                    return;
                }
            }
        });
        let mut r = Response::new(body);
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        return r;
    }
    if cut.is_some() {
        // A reply that is not a stream breaks off after its status line.
        let (tx, body) = channel();
        tokio::spawn(async move {
            let _ = tx
                .send(Err(std::io::Error::other("scripted disconnect")))
                .await;
        });
        return Response::new(body);
    }
    json_response(200, &reply.body())
}

/// A reply rendered without a server (for `MockRuntime`): the body FakeProvider
/// would send to request number `n` on `path` — JSON, or the whole SSE stream
/// when the request asks to stream. `None` when `path` is no model endpoint or
/// the body has no `model`.
#[must_use]
pub fn render_reply(
    path: &str,
    body: &[u8],
    n: u64,
    text: Option<String>,
) -> Option<(Vec<u8>, bool)> {
    let format = ApiFormat::from_path(path)?;
    let req: Value = serde_json::from_slice(body).ok()?;
    let model = req.get("model")?.as_str()?.to_owned();
    let reply = Reply::render(format, &req, &model, n, text, 0);
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        Some((reply.stream_events(4).concat().into_bytes(), true))
    } else {
        Some((reply.body().to_string().into_bytes(), false))
    }
}

/// One deterministic reply.
struct Reply {
    format: ApiFormat,
    model: String,
    n: u64,
    text: String,
    choices: u64,
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
    /// Audio input tokens (apart from `input`) and audio output tokens (part of `output`).
    audio_in: u64,
    audio_out: u64,
    truncated: bool,
    include_usage: bool,
    embeddings: Vec<Vec<f64>>,
}

impl Reply {
    fn new(state: &FakeState, format: ApiFormat, req: &Value, model: &str, n: u64) -> Self {
        let scripted = state.reply_for(n);
        let cached = state.cached_tokens.load(Ordering::Relaxed);
        Self::render(format, req, model, n, scripted, cached)
    }

    fn render(
        format: ApiFormat,
        req: &Value,
        model: &str,
        n: u64,
        scripted: Option<String>,
        cached_tokens: u64,
    ) -> Self {
        let tok = Tokenizer::for_model(model).unwrap_or(Tokenizer::O200kBase);
        let count = |s: &str| u64::try_from(tok.count_text(s)).unwrap_or(u64::MAX);
        let input = match format {
            ApiFormat::ChatCompletions | ApiFormat::Messages => {
                let m = req
                    .get("messages")
                    .map_or(Ok(0), |m| tok.count_messages(m))
                    .unwrap_or(0);
                let system = req.get("system").map_or(0, |s| match s {
                    Value::String(t) => tok.count_text(t),
                    other => tok.count_text(&other.to_string()),
                });
                let tools = req
                    .get("tools")
                    .map_or(0, |t| tok.count_text(&t.to_string()));
                u64::try_from(m + system + tools).unwrap_or(u64::MAX)
            }
            ApiFormat::Responses => {
                let input = match req.get("input") {
                    Some(Value::String(s)) => tok.count_text(s),
                    Some(v @ Value::Array(_)) => tok.count_messages(v).unwrap_or(0),
                    _ => 0,
                };
                let instr = req
                    .get("instructions")
                    .and_then(Value::as_str)
                    .map_or(0, |s| tok.count_text(s));
                u64::try_from(input + instr).unwrap_or(u64::MAX)
            }
            ApiFormat::Embeddings => match req.get("input") {
                Some(Value::String(s)) => count(s),
                Some(Value::Array(items)) => {
                    items.iter().map(|i| i.as_str().map_or(1, count)).sum()
                }
                _ => 0,
            },
        };
        let inputs: Vec<String> = match req.get("input") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().unwrap_or("").to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let embeddings = if format == ApiFormat::Embeddings {
            inputs.iter().map(|s| embed(s)).collect()
        } else {
            Vec::new()
        };
        let mut text = scripted.unwrap_or_else(|| default_reply(req, format, model, n));
        let max = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
            .iter()
            .find_map(|k| req.get(*k).and_then(Value::as_u64));
        // Reasoning tokens count against the output cap, as the real APIs bill them.
        let reasoning = if is_reasoning(model) {
            max.map_or(8, |m| m.min(8))
        } else {
            0
        };
        let mut truncated = false;
        if let Some(max) = max {
            while count(&text) + reasoning > max && !text.is_empty() {
                truncated = true;
                let cut = text.trim_end().rfind(' ').unwrap_or(0);
                text.truncate(cut);
            }
        }
        let billed = crate::fake_billing::bill(format, req, model, tok);
        let input = input + billed.input;
        let speaks = req
            .get("modalities")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|x| x.as_str() == Some("audio")));
        let text_out = count(&text) + reasoning;
        // Speech takes about three audio tokens per text token, within the cap.
        let audio_out = if speaks {
            let room = max.map_or(u64::MAX, |m| m.saturating_sub(text_out));
            (3 * count(&text)).min(room)
        } else {
            0
        };
        let output = if format == ApiFormat::Embeddings {
            0
        } else {
            text_out + audio_out
        };
        let cached = cached_tokens.min(input);
        let include_usage = req
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true);
        Reply {
            format,
            model: model.to_owned(),
            n,
            text,
            choices: req.get("n").and_then(Value::as_u64).unwrap_or(1).max(1),
            input,
            cached,
            output,
            reasoning,
            audio_in: billed.audio,
            audio_out,
            truncated,
            include_usage,
            embeddings,
        }
    }

    fn id(&self, prefix: &str) -> String {
        format!(
            "{prefix}{:016x}",
            self.n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    }

    fn usage(&self) -> Value {
        match self.format {
            ApiFormat::ChatCompletions => json!({
                "prompt_tokens": self.input + self.audio_in,
                "completion_tokens": self.output * self.choices,
                "total_tokens": self.input + self.audio_in + self.output * self.choices,
                "prompt_tokens_details": {"cached_tokens": self.cached, "audio_tokens": self.audio_in},
                "completion_tokens_details": {"reasoning_tokens": self.reasoning * self.choices,
                    "audio_tokens": self.audio_out * self.choices,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
            }),
            ApiFormat::Embeddings => {
                json!({"prompt_tokens": self.input, "total_tokens": self.input})
            }
            ApiFormat::Responses => json!({
                "input_tokens": self.input,
                "input_tokens_details": {"cached_tokens": self.cached},
                "output_tokens": self.output,
                "output_tokens_details": {"reasoning_tokens": self.reasoning},
                "total_tokens": self.input + self.output
            }),
            // Anthropic's input_tokens exclude cache reads.
            ApiFormat::Messages => json!({
                "input_tokens": self.input - self.cached,
                "cache_read_input_tokens": self.cached,
                "cache_creation_input_tokens": 0,
                "output_tokens": self.output
            }),
        }
    }

    fn finish_reason(&self) -> &'static str {
        match (self.format, self.truncated) {
            (ApiFormat::Messages, true) => "max_tokens",
            (ApiFormat::Messages, false) => "end_turn",
            (_, true) => "length",
            _ => "stop",
        }
    }

    fn response_object(&self, status: &str, with_output: bool) -> Value {
        let output = if with_output {
            json!([{"type": "message", "id": self.id("msg_"), "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": self.text, "annotations": []}]}])
        } else {
            json!([])
        };
        json!({"id": self.id("resp_"), "object": "response", "created_at": now_s(), "status": status,
               "model": self.model, "output": output, "parallel_tool_calls": true, "tool_choice": "auto",
               "tools": [], "usage": if with_output { self.usage() } else { Value::Null }})
    }

    fn body(&self) -> Value {
        match self.format {
            ApiFormat::ChatCompletions => {
                let choices: Vec<Value> = (0..self.choices)
                    .map(|i| {
                        let mut message = json!({"role": "assistant", "content": self.text, "refusal": null});
                        if self.audio_out > 0 {
                            message["audio"] = json!({"id": self.id("audio_"), "data": "UklGRiQAAABXQVZF",
                                                      "expires_at": now_s() + 3600, "transcript": self.text});
                        }
                        json!({"index": i, "message": message, "finish_reason": self.finish_reason(), "logprobs": null})
                    })
                    .collect();
                json!({"id": self.id("chatcmpl-"), "object": "chat.completion", "created": now_s(), "model": self.model,
                       "choices": choices, "usage": self.usage(), "system_fingerprint": "fp_fake"})
            }
            ApiFormat::Responses => self.response_object("completed", true),
            ApiFormat::Messages => json!({
                "id": self.id("msg_"), "type": "message", "role": "assistant", "model": self.model,
                "content": [{"type": "text", "text": self.text}], "stop_reason": self.finish_reason(),
                "stop_sequence": null, "usage": self.usage()
            }),
            ApiFormat::Embeddings => {
                let data: Vec<Value> = self
                    .embeddings
                    .iter()
                    .enumerate()
                    .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
                    .collect();
                json!({"object": "list", "data": data, "model": self.model, "usage": self.usage()})
            }
        }
    }

    fn pieces(&self, chars: usize) -> Vec<String> {
        let all: Vec<char> = self.text.chars().collect();
        all.chunks(chars).map(|c| c.iter().collect()).collect()
    }

    fn stream_events(&self, chars: usize) -> Vec<String> {
        let mut out = Vec::new();
        let data = |v: Value| SseEvent::encode(None, &v.to_string());
        let named = |name: &str, v: Value| SseEvent::encode(Some(name), &v.to_string());
        match self.format {
            ApiFormat::ChatCompletions | ApiFormat::Embeddings => {
                let id = self.id("chatcmpl-");
                let created = now_s();
                let chunk = |choices: Value| {
                    json!({"id": id, "object": "chat.completion.chunk", "created": created,
                                                     "model": self.model, "system_fingerprint": "fp_fake", "choices": choices})
                };
                for i in 0..self.choices {
                    out.push(data(chunk(json!([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]))));
                }
                for piece in self.pieces(chars) {
                    for i in 0..self.choices {
                        out.push(data(chunk(json!([{"index": i, "delta": {"content": piece}, "finish_reason": null}]))));
                    }
                }
                for i in 0..self.choices {
                    out.push(data(chunk(
                        json!([{"index": i, "delta": {}, "finish_reason": self.finish_reason()}]),
                    )));
                }
                if self.include_usage {
                    let mut last = chunk(json!([]));
                    last["usage"] = self.usage();
                    out.push(data(last));
                }
                out.push("data: [DONE]\n\n".to_owned());
            }
            ApiFormat::Responses => {
                let item = self.id("msg_");
                let mut seq = 0u64;
                let mut ev = |name: &str, mut v: Value| {
                    v["type"] = json!(name);
                    v["sequence_number"] = json!(seq);
                    seq += 1;
                    named(name, v)
                };
                out.push(ev(
                    "response.created",
                    json!({"response": self.response_object("in_progress", false)}),
                ));
                out.push(ev("response.output_item.added", json!({"output_index": 0, "item": {"type": "message", "id": item, "status": "in_progress", "role": "assistant", "content": []}})));
                out.push(ev("response.content_part.added", json!({"item_id": item, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})));
                for piece in self.pieces(chars) {
                    out.push(ev("response.output_text.delta", json!({"item_id": item, "output_index": 0, "content_index": 0, "delta": piece})));
                }
                out.push(ev("response.output_text.done", json!({"item_id": item, "output_index": 0, "content_index": 0, "text": self.text})));
                out.push(ev("response.content_part.done", json!({"item_id": item, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": self.text, "annotations": []}})));
                out.push(ev("response.output_item.done", json!({"output_index": 0, "item": {"type": "message", "id": item, "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": self.text, "annotations": []}]}})));
                out.push(ev(
                    "response.completed",
                    json!({"response": self.response_object("completed", true)}),
                ));
            }
            ApiFormat::Messages => {
                let mut start_usage = self.usage();
                start_usage["output_tokens"] = json!(1);
                out.push(named("message_start", json!({"type": "message_start", "message": {
                    "id": self.id("msg_"), "type": "message", "role": "assistant", "model": self.model, "content": [],
                    "stop_reason": null, "stop_sequence": null, "usage": start_usage}})));
                out.push(named("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
                out.push(named("ping", json!({"type": "ping"})));
                for piece in self.pieces(chars) {
                    out.push(named("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
                }
                out.push(named(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ));
                out.push(named("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": self.finish_reason(), "stop_sequence": null}, "usage": {"output_tokens": self.output}})));
                out.push(named("message_stop", json!({"type": "message_stop"})));
            }
        }
        out
    }
}

fn is_reasoning(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("gpt-5") || ["o1", "o3", "o4"].iter().any(|p| m.starts_with(p))
}

fn last_user_text(req: &Value, format: ApiFormat) -> String {
    let text_of = |c: &Value| -> String {
        match c {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    };
    if format == ApiFormat::Responses {
        return match req.get("input") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .last()
                .and_then(|i| i.get("content"))
                .map(text_of)
                .unwrap_or_default(),
            _ => String::new(),
        };
    }
    req.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .map(text_of)
        .unwrap_or_default()
}

fn default_reply(req: &Value, format: ApiFormat, model: &str, n: u64) -> String {
    let prompt = last_user_text(req, format);
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let topic: String = words.iter().take(8).copied().collect::<Vec<_>>().join(" ");
    format!("Reply {n} from {model}: you wrote {} words, starting with \"{topic}\". Here is a short, deterministic answer.", words.len())
}

fn embed(text: &str) -> Vec<f64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    (0..8)
        .map(|i| {
            for b in text.bytes().chain([i]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            #[allow(clippy::cast_precision_loss)]
            let v = (h % 2000) as f64 / 1000.0 - 1.0;
            v
        })
        .collect()
}
