//! `LlmRouter`: an OpenAI- and Anthropic-compatible proxy on loopback. Clients
//! point `base_url` at it and present the router's local key; it runs every
//! call through the [`Pipeline`] and forwards it with the provider key over a
//! pooled HTTP/1.1 + HTTP/2 client (rustls for HTTPS upstreams).
//!
//! Every response carries `x-iron-cage-overhead-us`: the time spent in the
//! router itself (before the upstream call, and after its reply arrived).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iron_llm::{translate, ApiFormat};
use serde_json::json;

use crate::error::PipelineError;
use crate::http::{channel, full, json_response, read_body, RespBody, ServerHandle};
use crate::pipeline::{Call, Pipeline};
use crate::sealed_key::KeySlot;

/// Router settings.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Interface to bind (default loopback).
    pub host: String,
    /// Port (0: a free one).
    pub port: u16,
    /// The key clients must present (`Authorization: Bearer` or `x-api-key`).
    pub api_key: String,
    /// OpenAI-format upstream base URL, `/v1` included.
    pub openai_upstream: String,
    /// Anthropic upstream base URL, `/v1` included.
    pub anthropic_upstream: String,
    /// Key sent to the OpenAI upstream (given, or opened from a lease).
    pub openai_key: KeySlot,
    /// Key sent to the Anthropic upstream.
    pub anthropic_key: KeySlot,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Time allowed for the upstream's response headers.
    pub upstream_timeout: Duration,
    /// Tokio worker threads. One is fastest on a 2-core machine at 1k req/s
    /// (fewer cross-thread wake-ups); raise it on bigger machines.
    pub threads: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            host: "127.0.0.1".into(),
            port: 0,
            api_key: String::new(),
            openai_upstream: "https://api.openai.com/v1".into(),
            anthropic_upstream: "https://api.anthropic.com/v1".into(),
            openai_key: KeySlot::default(),
            anthropic_key: KeySlot::default(),
            max_body_bytes: 8 << 20,
            upstream_timeout: Duration::from_secs(600),
            threads: 1,
        }
    }
}

pub(crate) type Upstream = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP(S) client upstream calls go through (pooled, HTTP/1 and 2, webpki
/// roots). A connection not made within `connect_timeout` fails as a connect
/// error: the request was never sent, so nothing is charged for it.
pub(crate) fn upstream_client(connect_timeout: Duration) -> Upstream {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(https)
}

/// How long a connection to the upstream may take: 10 s, or less when the
/// whole call must finish sooner (half its timeout), so a connect that hangs
/// fails as not sent rather than as a call without an answer.
fn connect_timeout(upstream_timeout: Duration) -> Duration {
    (upstream_timeout / 2).min(Duration::from_secs(10))
}

/// A running router.
#[derive(Debug)]
pub struct Router {
    server: ServerHandle,
    pipeline: Arc<Pipeline>,
    api_key: String,
}

struct Shared {
    config: RouterConfig,
    pipeline: Arc<Pipeline>,
    client: Upstream,
}

impl Router {
    /// Starts the router over `pipeline`.
    ///
    /// # Errors
    /// The address cannot be bound, or no TLS roots are available.
    pub fn start(config: RouterConfig, pipeline: Arc<Pipeline>) -> std::io::Result<Self> {
        let client = upstream_client(connect_timeout(config.upstream_timeout));
        let api_key = config.api_key.clone();
        let (host, port, threads) = (config.host.clone(), config.port, config.threads);
        let shared = Arc::new(Shared {
            config,
            pipeline: Arc::clone(&pipeline),
            client,
        });
        let server = ServerHandle::start(&host, port, threads, move |req| {
            handle(Arc::clone(&shared), req)
        })?;
        Ok(Router {
            server,
            pipeline,
            api_key,
        })
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

    /// The key clients present.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The pipeline.
    #[must_use]
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// Whether it is serving.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// Stops serving; calls in flight are cut off (their reservations released).
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

fn error_response(
    err: &PipelineError,
    format: Option<ApiFormat>,
    overhead: Duration,
) -> Response<RespBody> {
    let mut r = json_response(err.status(), &err.body(format));
    if let Some(s) = err.retry_after() {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(RETRY_AFTER, v);
        }
    }
    set_overhead(&mut r, overhead);
    r
}

fn set_overhead(r: &mut Response<RespBody>, overhead: Duration) {
    if let Ok(v) = HeaderValue::from_str(&overhead.as_micros().to_string()) {
        r.headers_mut().insert("x-iron-cage-overhead-us", v);
    }
}

fn presented_key(req: &Request<Incoming>) -> Option<&str> {
    let h = req.headers();
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            h.get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|a| a.strip_prefix("Bearer "))
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One request through the router: authenticate, read and admit it, send it
/// upstream with the provider's key, relay the reply (streamed or whole).
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<RespBody> {
    let t0 = Instant::now();
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && (path == "/health" || path == "/v1/health") {
        return json_response(200, &json!({"status": "ok"}));
    }
    let format = ApiFormat::from_path(&path);
    if let Err(e) = authorize(&shared, &req) {
        return error_response(&e, format, t0.elapsed());
    }
    if req.method() == Method::GET && path.trim_end_matches('/') == "/v1/models" {
        return models();
    }
    let Some(format) = format.filter(|_| req.method() == Method::POST) else {
        let err = PipelineError::NotFound(format!(
            "no endpoint {} {path}; the router serves POST /v1/chat/completions, /v1/responses, /v1/messages, /v1/embeddings and GET /v1/models",
            req.method()
        ));
        return error_response(&err, None, t0.elapsed());
    };
    let anthropic = AnthropicHeaders::of(&req);
    let body = match read_request(&shared, req).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, Some(format), t0.elapsed()),
    };
    let call = match shared.pipeline.begin(format, &body) {
        Ok(c) => c,
        Err(e) => return error_response(&e, Some(format), t0.elapsed()),
    };
    let (request, upstream) = match Route::build(&shared, &call, format, body, anthropic) {
        Ok(u) => u,
        Err(e) => {
            drop(call);
            return error_response(&e, Some(format), t0.elapsed());
        }
    };
    let before_upstream = t0.elapsed();
    let sent = tokio::time::timeout(
        shared.config.upstream_timeout,
        shared.client.request(request),
    )
    .await;
    let resp = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is_connect() => {
            call.fail(&e.to_string());
            let err = PipelineError::Upstream(format!(
                "the upstream {} could not be reached: {e}; nothing was charged",
                upstream.url
            ));
            return error_response(&err, Some(format), before_upstream);
        }
        Ok(Err(e)) => {
            let charge = call.unanswered(&e.to_string());
            let err = PipelineError::Upstream(format!(
                "the connection to the upstream {} broke before its answer: {e}; the request had been \
                 sent, so the worst case reserved ({}) was charged",
                upstream.url,
                charge.cost
            ));
            return error_response(&err, Some(format), before_upstream);
        }
        Err(_) => {
            let charge = call.unanswered("timeout");
            let err = PipelineError::Upstream(format!(
                "the upstream {} did not answer within {:?}; the request had been sent, so the worst \
                 case reserved ({}) was charged",
                upstream.url,
                shared.config.upstream_timeout,
                charge.cost
            ));
            return error_response(&err, Some(format), before_upstream);
        }
    };
    if call.is_stream() && resp.status().as_u16() < 400 {
        relay_stream(call, resp, upstream.translated, before_upstream)
    } else {
        relay_body(call, resp, &upstream, format, before_upstream).await
    }
}

/// The router's own key, presented as `x-api-key` or a bearer token.
fn authorize(shared: &Shared, req: &Request<Incoming>) -> Result<(), PipelineError> {
    let ok = presented_key(req)
        .is_some_and(|k| constant_time_eq(k.as_bytes(), shared.config.api_key.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(PipelineError::Unauthorized(
            "invalid or missing API key: use the router's api_key (LlmRouter.api_key) as the client's api_key".into(),
        ))
    }
}

/// The body, up to the router's limit.
async fn read_request(shared: &Shared, req: Request<Incoming>) -> Result<Bytes, PipelineError> {
    match read_body(req.into_body(), shared.config.max_body_bytes).await {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(PipelineError::TooLarge(format!(
            "the request body is larger than the router's limit of {} bytes (max_body_bytes)",
            shared.config.max_body_bytes
        ))),
        Err(e) => Err(PipelineError::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// The Anthropic headers a client sent, passed on upstream.
struct AnthropicHeaders {
    version: HeaderValue,
    beta: Option<HeaderValue>,
}

impl AnthropicHeaders {
    fn of(req: &Request<Incoming>) -> Self {
        AnthropicHeaders {
            version: req
                .headers()
                .get("anthropic-version")
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("2023-06-01")),
            beta: req.headers().get("anthropic-beta").cloned(),
        }
    }
}

/// Where a call goes upstream.
struct Route {
    url: String,
    /// An OpenAI-format call for a Claude model, translated to Anthropic Messages.
    translated: bool,
}

impl Route {
    /// The admitted call's body (translated or rewritten when it must be), to
    /// the provider's base URL, with the provider's key.
    fn build(
        shared: &Shared,
        call: &Call,
        format: ApiFormat,
        body: Bytes,
        anthropic: AnthropicHeaders,
    ) -> Result<(Request<Full<Bytes>>, Self), PipelineError> {
        // OpenAI-format calls for Claude models go to Anthropic, translated both ways.
        let translated =
            format == ApiFormat::ChatCompletions && translate::is_claude(&call.request().model);
        let wire = if translated {
            ApiFormat::Messages
        } else {
            format
        };
        let upstream_body: Bytes = if translated {
            let b = translate::chat_request_to_messages(call.request().body())
                .map_err(|e| PipelineError::BadRequest(e.to_string()))?;
            serde_json::to_vec(&b).unwrap_or_default().into()
        } else {
            call.modified_body().map_or(body, Bytes::from)
        };
        let config = &shared.config;
        let (base, key) = if wire == ApiFormat::Messages {
            (&config.anthropic_upstream, &config.anthropic_key)
        } else {
            (&config.openai_upstream, &config.openai_key)
        };
        let url = format!("{}{}", base.trim_end_matches('/'), wire.path());
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(CONTENT_TYPE, "application/json");
        if wire == ApiFormat::Messages {
            builder = builder.header("anthropic-version", anthropic.version);
            if let Some(b) = anthropic.beta {
                builder = builder.header("anthropic-beta", b);
            }
        }
        if let Some((name, value)) = signature(wire.provider(), key) {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(upstream_body)).map_err(|e| {
            PipelineError::BadRequest(format!("cannot build the upstream request to {url}: {e}"))
        })?;
        Ok((request, Route { url, translated }))
    }
}

/// The header that carries the provider key (`x-api-key` for Anthropic, a
/// bearer token otherwise), marked sensitive so it is never printed.
pub(crate) fn signature(
    provider: iron_cost::Provider,
    key: &KeySlot,
) -> Option<(hyper::header::HeaderName, HeaderValue)> {
    key.with(|k| {
        let k = k?;
        let (name, value) = if provider == iron_cost::Provider::Anthropic {
            (
                hyper::header::HeaderName::from_static("x-api-key"),
                HeaderValue::from_str(k),
            )
        } else {
            let bearer = zeroize::Zeroizing::new(format!("Bearer {k}"));
            (AUTHORIZATION, HeaderValue::from_str(&bearer))
        };
        let mut value = value.ok()?;
        value.set_sensitive(true);
        Some((name, value))
    })
}

/// Relays a streamed reply through the stream guard (charged as it ends,
/// however it ends).
fn relay_stream(
    call: Call,
    resp: Response<Incoming>,
    translated: bool,
    before_upstream: Duration,
) -> Response<RespBody> {
    let t_headers = Instant::now();
    let content_type = resp.headers().get(CONTENT_TYPE).cloned();
    let mut guard = call.stream();
    let (tx, out_body) = channel();
    let mut upstream_body = resp.into_body();
    let mut translator = translated.then(translate::MessagesToChatStream::new);
    tokio::spawn(async move {
        loop {
            match upstream_body.frame().await {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let out = match translator.as_mut() {
                        Some(t) => guard.feed(&t.feed(&data)),
                        None => guard.feed(&data),
                    };
                    if !out.is_empty() && tx.send(Ok(Bytes::from(out))).await.is_err() {
                        // The client went away: charge what the upstream produced so far.
                        let _ = guard.finish(true);
                        return;
                    }
                    if guard.is_blocked() {
                        let _ = guard.finish(true);
                        return;
                    }
                }
                Some(Err(e)) => {
                    let (out, _) = guard.finish(false);
                    if !out.is_empty() {
                        let _ = tx.send(Ok(Bytes::from(out))).await;
                    }
                    let _ = tx
                        .send(Err(std::io::Error::other(format!(
                            "upstream stream broke: {e}"
                        ))))
                        .await;
                    return;
                }
                None => {
                    let (out, _) = guard.finish(true);
                    if !out.is_empty() {
                        let _ = tx.send(Ok(Bytes::from(out))).await;
                    }
                    return;
                }
            }
        }
    });
    let mut r = Response::new(out_body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        content_type.unwrap_or_else(|| HeaderValue::from_static("text/event-stream")),
    );
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    set_overhead(&mut r, before_upstream + t_headers.elapsed());
    r
}

/// Relays a whole reply (or an upstream error) after charging and scanning it.
async fn relay_body(
    call: Call,
    resp: Response<Incoming>,
    upstream: &Route,
    format: ApiFormat,
    before_upstream: Duration,
) -> Response<RespBody> {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = resp.headers().get(CONTENT_TYPE).cloned();
    let upstream_bytes = match resp.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            let charge = call.unanswered(&e.to_string());
            let err = PipelineError::Upstream(format!(
                "the upstream {} broke off its reply: {e}; the worst case reserved ({}) was charged",
                upstream.url,
                charge.cost
            ));
            return error_response(&err, Some(format), before_upstream);
        }
    };
    let t_body = Instant::now();
    let upstream_bytes = if upstream.translated {
        translate_reply(status, &upstream_bytes)
    } else {
        upstream_bytes
    };
    match call.complete(status, retry_after.as_deref(), &upstream_bytes) {
        Ok(out) => {
            let mut r = Response::new(full(out.map_or(upstream_bytes, Bytes::from)));
            *r.status_mut() =
                hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
            r.headers_mut().insert(
                CONTENT_TYPE,
                content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
            );
            if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                r.headers_mut().insert(RETRY_AFTER, v);
            }
            set_overhead(&mut r, before_upstream + t_body.elapsed());
            r
        }
        Err(e) => error_response(&e, Some(format), before_upstream + t_body.elapsed()),
    }
}

/// An Anthropic reply (or error) in the Chat Completions shape.
fn translate_reply(status: u16, body: &Bytes) -> Bytes {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.clone();
    };
    let out = if status < 400 {
        translate::messages_response_to_chat(&value)
    } else {
        let err = value.get("error").cloned().unwrap_or_default();
        json!({"error": {"message": err.get("message"), "type": err.get("type"), "param": null, "code": err.get("type")}})
    };
    Bytes::from(out.to_string())
}

fn models() -> Response<RespBody> {
    let table = iron_cost::active_prices()
        .unwrap_or_else(|_| Arc::new(iron_cost::PriceTable::embedded().clone()));
    let data: Vec<serde_json::Value> = table
        .model_names()
        .into_iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "iron-cage"}))
        .collect();
    json_response(200, &json!({"object": "list", "data": data}))
}
