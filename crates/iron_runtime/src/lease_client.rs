//! The runtime side of budget leasing (docs/architecture.md §5, docs/protocol.md).
//!
//! `LeaseClient::start` handshakes with the Control Panel and turns the lease
//! into the limit of a local [`Ledger`], so every LLM call is checked locally
//! and never waits on the server. A worker thread then:
//! - queues each `llm_call` event of the attached pipelines as a usage report
//!   in the SQLite [`Outbox`] (synchronously, in the event itself) and sends
//!   them in batches; unacknowledged reports stay queued and are replayed,
//!   also by the next run, and the server counts each `request_id` once;
//! - refreshes the lease when its remainder runs low or half its lifetime has
//!   passed; a lease that expires unrefreshed freezes the ledger (no spending
//!   without a live lease) until a new handshake succeeds;
//! - obeys `stop: true` from the server (the agent was stopped) by freezing it;
//! - applies the server's per-request limits (cost, tokens, calls a minute)
//!   to every attached pipeline.
//!
//! `close` flushes what it can and returns the lease.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iron_cost::{Ledger, Money};
use serde_json::{json, Value};

use crate::egress::{Action, PiiPolicy};
use crate::limits::{ModelPolicy, RequestLimits};
use crate::outbox::Outbox;
use crate::pipeline::Pipeline;
use crate::record::CallRecord;
use crate::refusals::{self, Collapser};
use crate::sealed_key::{KeyExchange, KeySlot};

/// How a runtime talks to the Control Panel.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Control Panel's base URL (`http://host:port`; `/api/v1` is added), or
    /// several replicas' URLs separated by commas (tried in turn on failure).
    pub server_url: String,
    /// The agent's IC token.
    pub ic_token: String,
    /// USD requested per handshake and per refresh.
    pub slice: Money,
    /// Refresh when the lease's remainder falls below this fraction of `slice`.
    pub refresh_below: f64,
    /// Longest wait between report flushes.
    pub flush_interval: Duration,
    /// Reports per request.
    pub batch_size: usize,
    /// The outbox file.
    pub outbox_path: PathBuf,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Names this runtime in the server's lease list.
    pub runtime: String,
}

/// Why the lease client failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The server could not be reached (or answered garbage).
    #[error("cannot reach the Control Panel at {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server refused (4xx/5xx) with its error body.
    #[error("the Control Panel refused {what} ({status} {code}): {message}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// HTTP status.
        status: u16,
        /// The error code of the body.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The outbox file failed.
    #[error("{0}")]
    Outbox(String),
    /// A policy from the server that this runtime cannot apply as sent.
    #[error("{0}")]
    Policy(String),
    /// The agent was stopped in the Control Panel: no lease until it is resumed.
    #[error("{message}")]
    Stopped {
        /// Who stopped it and when, and what to do.
        message: String,
    },
}

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The Control Panel replicas a runtime knows, and which one it is using.
///
/// Every request goes to the current replica; on a connection error, a timeout
/// or a 502/503/504 the next one is tried (round-robin), and the one that answers
/// becomes current (sticky). A resend after an unknown outcome is harmless: a
/// report batch stays in the outbox until a replica acknowledged it and the
/// server counts each `request_id` once.
struct Http {
    rt: tokio::runtime::Runtime,
    client: Https,
    bases: Vec<String>,
    current: AtomicUsize,
    failovers: AtomicU64,
    last_failover: Mutex<String>,
    /// The last request found no replica answering (unreachable, or 502/503/504 from all).
    down: AtomicBool,
    timeout: Duration,
}

/// The most a lease worker waits between attempts while the Control Panel is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long the worker waits after `misses` rounds in a row found the Control Panel
/// down: the flush interval doubled per miss, capped at a quarter of the lease's
/// lifetime (so a runtime back in touch can still refresh in time) and at 30 s, and
/// scaled by a random factor in [0.5, 1) so that runtimes cut off together do not come
/// back together.
fn backoff(flush_interval: Duration, lifetime: Duration, misses: u32, jitter: f64) -> Duration {
    let cap = if lifetime.is_zero() {
        MAX_BACKOFF
    } else {
        (lifetime / 4).clamp(flush_interval, MAX_BACKOFF.max(flush_interval))
    };
    let grown = flush_interval.saturating_mul(1u32 << misses.saturating_sub(1).min(16));
    grown.min(cap).mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

/// A uniform random number in [0, 1).
fn unit_random() -> f64 {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).unwrap_or_default();
    f64::from(u16::from_le_bytes(bytes)) / 65536.0
}

/// The base URLs (`…/api/v1`) of a comma-separated list of Control Panel URLs.
fn api_bases(server_urls: &str) -> Vec<String> {
    server_urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            format!(
                "{}/api/v1",
                u.trim_end_matches('/').trim_end_matches("/api/v1")
            )
        })
        .collect()
}

/// Answers that mean "this replica cannot serve now, another may": the request
/// moves on to the next replica.
fn replica_unavailable(status: u16) -> bool {
    matches!(status, 502..=504)
}

impl Http {
    fn new(server_urls: &str, timeout: Duration) -> Result<Self, LeaseError> {
        let bases = api_bases(server_urls);
        if bases.is_empty() {
            return Err(LeaseError::Unreachable {
                url: server_urls.to_string(),
                reason: "no Control Panel URL given".into(),
            });
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LeaseError::Outbox(format!("tokio runtime: {e}")))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: Https = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Http {
            rt,
            client,
            bases,
            current: AtomicUsize::new(0),
            failovers: AtomicU64::new(0),
            last_failover: Mutex::new(String::new()),
            down: AtomicBool::new(false),
            timeout,
        })
    }

    /// The replica requests go to now.
    fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// POSTs JSON; `Ok` with the status and body for any HTTP answer.
    fn post(&self, path: &str, token: &str, body: &Value) -> Result<(u16, Value), LeaseError> {
        self.send(hyper::Method::POST, path, token, Some(body))
    }

    fn get(&self, path: &str, token: &str) -> Result<(u16, Value), LeaseError> {
        self.send(hyper::Method::GET, path, token, None)
    }

    /// Sends to the current replica, then to each other one in turn while they
    /// are unreachable or unavailable; the first that answers becomes current.
    /// When none answers, the last replica's error (or 50x answer) is returned.
    fn send(
        &self,
        method: hyper::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), LeaseError> {
        let n = self.bases.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut last = None;
        for step in 0..n {
            let i = (start + step) % n;
            let result = self.send_to(&self.bases[i], method.clone(), path, token, body);
            let failed = match &result {
                Err(LeaseError::Unreachable { .. }) => true,
                Ok((status, _)) => replica_unavailable(*status),
                Err(_) => false,
            };
            if !failed || n == 1 {
                self.down.store(failed, Ordering::Relaxed);
                self.settle(start, i);
                return result;
            }
            last = Some(result);
        }
        self.down.store(true, Ordering::Relaxed);
        last.unwrap_or_else(|| {
            Err(LeaseError::Unreachable {
                url: self.base().to_string(),
                reason: "no Control Panel URL given".into(),
            })
        })
    }

    /// Makes replica `to` current after a request that began at `from`.
    fn settle(&self, from: usize, to: usize) {
        if from == to {
            return;
        }
        self.current.store(to, Ordering::Relaxed);
        self.failovers.fetch_add(1, Ordering::Relaxed);
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        *lock(&self.last_failover) = format!(
            "{} from {} to {}",
            rfc3339(since),
            self.bases[from],
            self.bases[to]
        );
    }

    fn send_to(
        &self,
        base: &str,
        method: hyper::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), LeaseError> {
        let url = format!("{base}{path}");
        let unreachable = |reason: String| LeaseError::Unreachable {
            url: url.clone(),
            reason,
        };
        let req = Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::from(
                body.map(Value::to_string).unwrap_or_default(),
            )))
            .map_err(|e| unreachable(e.to_string()))?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = self
            .rt
            .block_on(async { tokio::time::timeout(self.timeout, fut).await })
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unreachable)?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }
}

/// What a runtime of a stopped agent says: by whom (their role in brackets) and
/// when, when the server says.
fn stopped_message(by: Option<&str>, at: Option<&str>) -> String {
    let by = by.map_or_else(|| "an admin or the agent's owner".to_owned(), str::to_owned);
    let at = at.map(|at| format!(" at {at}")).unwrap_or_default();
    format!(
        "the agent was stopped in the Control Panel by {by}{at}: no new calls are admitted until an admin or its owner resumes it (POST /api/v1/agents/{{id}}/resume)"
    )
}

fn refused(what: &'static str, status: u16, body: &Value) -> LeaseError {
    let err = &body["error"];
    if err["code"] == "agent_stopped" {
        return LeaseError::Stopped {
            message: stopped_message(
                err["details"]["stopped_by"].as_str(),
                err["details"]["stopped_at"].as_str(),
            ),
        };
    }
    LeaseError::Refused {
        what,
        status,
        code: err["code"].as_str().unwrap_or("error").to_string(),
        message: err["message"]
            .as_str()
            .unwrap_or("no error message")
            .to_string(),
    }
}

fn pool_left(lease: &Value) -> Option<Money> {
    lease
        .get("remaining_usd")
        .filter(|v| v.is_number())
        .map(usd)
}

fn usd(v: &Value) -> Money {
    Money::from_usd_f64(v.as_f64().unwrap_or(0.0), "lease amount").unwrap_or(Money::ZERO)
}

/// What the server said about the current lease.
#[derive(Debug, Clone, Default)]
pub struct LeaseState {
    /// The lease id (empty when there is none).
    pub lease_id: String,
    /// Total granted on this lease.
    pub granted: Money,
    /// Ledger usage when this lease began (the lease's spend is measured from it).
    pub base: Money,
    /// The provider the agent is configured for.
    pub provider: String,
    /// Whether the server released a provider key (sealed to this runtime; it
    /// is held in the lease's [`KeySlot`], never here).
    pub has_provider_key: bool,
    /// The provider base URL, when the key has one.
    pub provider_base_url: Option<String>,
    /// The server asked this agent to stop.
    pub stop_requested: bool,
    /// Why, as calls are refused (who stopped it and when).
    pub stop_reason: String,
    /// The lease is live (not expired unrefreshed, not returned).
    pub live: bool,
    /// The per-request limits the server sent.
    pub limits: RequestLimits,
    /// The models and providers the server allows.
    pub policy: ModelPolicy,
    /// The server's PII policies for requests and replies (floors under the agent's own).
    pub egress_floor: Option<PiiPolicy>,
    /// See `egress_floor`.
    pub ingress_floor: Option<PiiPolicy>,
    deadline: Option<Instant>,
    lifetime: Duration,
    /// What the allocation still had beyond live leases in the server's last answer
    /// (`remaining_usd`; None before one said it).
    pool_left: Option<Money>,
}

struct Inner {
    cfg: LeaseConfig,
    ledger: Arc<Ledger>,
    outbox: Outbox,
    http: Http,
    state: Mutex<LeaseState>,
    /// The opened provider key: read by the router and the key proxy when they sign.
    key: KeySlot,
    pipelines: Mutex<Vec<Weak<Pipeline>>>,
    /// Refused and failed calls since the last flush, collapsed per (model, status).
    refused: Mutex<Collapser>,
    closing: Mutex<bool>,
    /// One flush at a time (the worker's and an explicit `flush()`), so a batch is sent once.
    flushing: Mutex<()>,
    wake: Condvar,
    sent: AtomicU64,
    failures: AtomicU64,
    connected: AtomicBool,
    /// A report's answer brought the live lease since the worker last looked.
    heard: AtomicBool,
    last_error: Mutex<String>,
    /// The worker's wait before its next attempt while the server is down (0: it is up).
    backoff_ms: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A live lease, its outbox and the worker that keeps both current.
pub struct LeaseClient {
    inner: Arc<Inner>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LeaseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseClient")
            .field("server", &self.inner.http.base())
            .finish_non_exhaustive()
    }
}

impl LeaseClient {
    /// Handshakes and starts the worker. From then on `ledger`'s limit follows the
    /// lease: what it has used so far plus what the lease grants.
    ///
    /// # Errors
    /// The server is unreachable or refuses the IC token or the amount, or the
    /// outbox cannot be opened.
    pub fn start(cfg: LeaseConfig, ledger: Arc<Ledger>) -> Result<Self, LeaseError> {
        let outbox = Outbox::open(&cfg.outbox_path).map_err(LeaseError::Outbox)?;
        let http = Http::new(&cfg.server_url, cfg.timeout)?;
        let inner = Arc::new(Inner {
            cfg,
            ledger: Arc::clone(&ledger),
            outbox,
            http,
            state: Mutex::new(LeaseState::default()),
            key: KeySlot::default(),
            pipelines: Mutex::new(Vec::new()),
            refused: Mutex::new(Collapser::default()),
            closing: Mutex::new(false),
            flushing: Mutex::new(()),
            wake: Condvar::new(),
            sent: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            backoff_ms: AtomicU64::new(0),
        });
        inner.handshake()?;
        let worker_inner = Arc::clone(&inner);
        let worker = std::thread::Builder::new()
            .name("iron-cage-lease".into())
            .spawn(move || worker_inner.run())
            .map_err(|e| LeaseError::Outbox(format!("cannot start the lease worker: {e}")))?;
        Ok(LeaseClient {
            inner,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Reports every `llm_call` of `pipeline` (and its refused and failed calls and
    /// breaker transitions, collapsed) and applies the Control Panel's
    /// per-request limits to it (now and whenever they change). Call once per pipeline.
    pub fn attach(&self, pipeline: &Arc<Pipeline>) -> u64 {
        {
            let st = lock(&self.inner.state);
            pipeline.set_limits(st.limits);
            pipeline.set_model_policy(st.policy.clone());
            if let Err(e) =
                pipeline.set_pii_floor(st.egress_floor.as_ref(), st.ingress_floor.as_ref())
            {
                self.inner.note_error(&LeaseError::Policy(e));
            }
            pipeline.set_halt(st.stop_requested.then_some(st.stop_reason.as_str()));
        }
        lock(&self.inner.pipelines).push(Arc::downgrade(pipeline));
        let inner = Arc::clone(&self.inner);
        pipeline
            .events()
            .subscribe_kinds(refusals::EVENT_KINDS, move |e| inner.observe(e));
        let inner = Arc::clone(&self.inner);
        pipeline
            .events()
            .subscribe_calls(move |call| inner.enqueue(call))
    }

    /// Where the opened provider key is kept (for the router and the key
    /// proxy to sign upstream requests with; nothing else reads it).
    #[must_use]
    pub fn key_slot(&self) -> KeySlot {
        self.inner.key.clone()
    }

    /// A copy of the lease as last seen.
    #[must_use]
    pub fn state(&self) -> LeaseState {
        lock(&self.inner.state).clone()
    }

    /// Reports waiting in the outbox.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inner.outbox.len()
    }

    /// Status for metrics: connected, reports sent, failures, last error.
    #[must_use]
    pub fn status(&self) -> Value {
        let st = self.state();
        json!({
            "server": self.inner.http.base(),
            "servers": self.inner.http.bases,
            "failovers": self.inner.http.failovers.load(Ordering::Relaxed),
            "last_failover": lock(&self.inner.http.last_failover).clone(),
            "connected": self.inner.connected.load(Ordering::Relaxed),
            "lease_id": st.lease_id,
            "lease_live": st.live,
            "granted_usd": st.granted.to_usd_f64(),
            "stop_requested": st.stop_requested,
            "pending_reports": self.pending(),
            "reports_sent": self.inner.sent.load(Ordering::Relaxed),
            "failures": self.inner.failures.load(Ordering::Relaxed),
            "last_error": lock(&self.inner.last_error).clone(),
            "retry_in_ms": self.inner.backoff_ms.load(Ordering::Relaxed),
        })
    }

    /// Sends every queued report now; true when the outbox is empty afterwards.
    pub fn flush(&self) -> bool {
        self.inner.queue_refused();
        self.inner.flush();
        self.inner.outbox.is_empty()
    }

    /// Stops the worker, flushes, and returns the lease (if the server is reachable;
    /// otherwise the reports stay queued for the next run and the lease expires).
    pub fn close(&self) {
        *lock(&self.inner.closing) = true;
        self.inner.wake.notify_all();
        if let Some(handle) = lock(&self.worker).take() {
            let _ = handle.join();
        }
        self.inner.queue_refused();
        if self.inner.flush() {
            self.inner.give_back();
        }
    }
}

impl Drop for LeaseClient {
    fn drop(&mut self) {
        if lock(&self.worker).is_some() {
            self.close();
        }
    }
}

fn rfc3339(since_epoch: Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(0);
    let micros = since_epoch.subsec_micros();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One usage report as the Control Panel takes it (`POST /api/v1/budget/report`).
#[derive(serde::Serialize)]
struct Report<'a> {
    request_id: String,
    model: &'a str,
    provider: &'static str,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    /// Decimal USD, exact to the micro-dollar.
    cost_usd: String,
    latency_ms: f64,
    pii_findings: usize,
    /// Each finding, for the PII audit (never the value); the first
    /// `MAX_REPORTED_FINDINGS` of a call (the count above has them all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pii: Vec<ReportFinding<'a>>,
    status: &'static str,
    /// Why a call sent but not answered failed (empty for an answered call).
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    occurred_at: String,
}

/// A refused or failed call (or several identical ones) as the Control Panel takes it:
/// a report with cost 0, a status from [`refusals::STATUSES`], the reason and the count.
#[derive(serde::Serialize)]
struct RefusalReport<'a> {
    request_id: String,
    model: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    provider: &'a str,
    cost_usd: &'static str,
    status: &'static str,
    reason: &'a str,
    count: u64,
    /// What an open breaker saved (the refused calls' reservations), decimal USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    saved_usd: Option<String>,
    breaker_state: &'static str,
    occurred_at: &'a str,
}

fn decimal_usd(m: Money) -> String {
    let micros = m.micros();
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn now_rfc3339() -> String {
    rfc3339(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The most findings one report lists (the Control Panel's limit per report).
const MAX_REPORTED_FINDINGS: usize = 1000;

#[derive(serde::Serialize)]
struct ReportFinding<'a> {
    entity: &'a str,
    severity: &'static str,
    start: usize,
    end: usize,
    value_hmac: &'a str,
    /// `reply` (the reply scanner) or `request` (the request policy).
    direction: &'static str,
    /// What the request policy did; `None` for reply findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
}

impl<'a> ReportFinding<'a> {
    fn new(f: &'a iron_safety::Finding, action: Option<&'static str>) -> Self {
        ReportFinding {
            entity: &f.entity,
            severity: f.severity.as_str(),
            start: f.start,
            end: f.end,
            value_hmac: &f.value_hmac,
            direction: if action.is_some() { "request" } else { "reply" },
            action,
        }
    }
}

/// A fresh key pair for one handshake or refresh.
fn key_exchange() -> Result<KeyExchange, LeaseError> {
    KeyExchange::new().map_err(LeaseError::Outbox)
}

fn request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap_or_default();
    bytes.iter().fold(String::from("icr_"), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Inner {
    fn note_error(&self, e: &LeaseError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if matches!(e, LeaseError::Unreachable { .. }) {
            self.connected.store(false, Ordering::Relaxed);
        }
        *lock(&self.last_error) = e.to_string();
    }

    fn enqueue(&self, call: &CallRecord) {
        let lease_id = lock(&self.state).lease_id.clone();
        let report = Report {
            request_id: request_id(),
            model: &call.model,
            provider: call.provider,
            input_tokens: call.input_tokens,
            output_tokens: call.output_tokens,
            cached_tokens: call.cached_input_tokens,
            cost_usd: decimal_usd(call.cost),
            latency_ms: call.latency_ms,
            pii_findings: call.pii_findings,
            pii: call
                .findings
                .iter()
                .map(|f| ReportFinding::new(f, None))
                .chain(
                    call.egress
                        .iter()
                        .map(|(f, a)| ReportFinding::new(f, Some(a))),
                )
                .take(MAX_REPORTED_FINDINGS)
                .collect(),
            status: match call.failed {
                Some(status) => status,
                None if call.blocked => "blocked",
                None => "ok",
            },
            reason: &call.reason,
            occurred_at: rfc3339(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
        };
        let report = serde_json::to_value(&report).unwrap_or_default();
        if let Err(e) = self.outbox.push(&lease_id, &report) {
            // Kept in memory, but no further call until the outbox takes writes again.
            self.ledger.set_limit(self.frozen_limit());
            self.note_error(&LeaseError::Outbox(e));
        }
        self.wake.notify_all();
    }

    /// Counts a refused or failed call, or queues a breaker transition (an event of
    /// a pipeline's bus; on the thread of the call).
    fn observe(&self, event: &Value) {
        if let Some(outcome) = refusals::classify(event) {
            let full = lock(&self.refused).add(outcome, &now_rfc3339());
            if full {
                self.queue_refused();
            }
        } else if let Some(t) = refusals::transition(event, &now_rfc3339()) {
            let mut t = t;
            t["request_id"] = json!(request_id());
            let lease_id = lock(&self.state).lease_id.clone();
            if let Err(e) = self.outbox.push(&lease_id, &t) {
                self.note_error(&LeaseError::Outbox(e));
            }
            self.wake.notify_all();
        }
    }

    /// Moves the collapsed refusals into the outbox, one report each.
    fn queue_refused(&self) {
        let drained = lock(&self.refused).drain();
        if drained.is_empty() {
            return;
        }
        let lease_id = lock(&self.state).lease_id.clone();
        for c in drained {
            let o = &c.outcome;
            let report = RefusalReport {
                request_id: request_id(),
                model: &o.model,
                provider: &o.provider,
                cost_usd: "0.000000",
                status: o.status,
                reason: &o.reason,
                count: c.count,
                saved_usd: (o.status == refusals::BREAKER_OPEN).then(|| decimal_usd(c.avoided)),
                breaker_state: if o.status == refusals::BREAKER_OPEN {
                    "open"
                } else {
                    "closed"
                },
                occurred_at: &c.first_at,
            };
            let report = serde_json::to_value(&report).unwrap_or_default();
            if let Err(e) = self.outbox.push(&lease_id, &report) {
                self.note_error(&LeaseError::Outbox(e));
            }
        }
    }

    /// Takes the server's limits and gives them to every attached pipeline.
    fn apply_limits(&self, body: &Value) {
        let limits = RequestLimits::from_json(&body["limits"]);
        let policy = ModelPolicy::from_json(&body["limits"]);
        // A policy this runtime cannot read is applied as "block everything": the
        // admin asked for more protection than the runtime can tell.
        let floor = |key: &str, what: &str| {
            PiiPolicy::floor_from_json(&body["limits"][key]).unwrap_or_else(|e| {
                self.note_error(&LeaseError::Policy(format!(
                    "the Control Panel's PII policy for {what} is not readable ({e}): everything with PII is refused until it is"
                )));
                Some(PiiPolicy::uniform(Action::Block))
            })
        };
        let egress = floor("pii_egress", "requests");
        let ingress = floor("pii_ingress", "replies");
        {
            let mut st = lock(&self.state);
            st.limits = limits;
            st.policy = policy.clone();
            st.egress_floor = egress.clone();
            st.ingress_floor = ingress.clone();
        }
        lock(&self.pipelines).retain(|w| {
            w.upgrade().is_some_and(|p| {
                p.set_limits(limits);
                p.set_model_policy(policy.clone());
                if let Err(e) = p.set_pii_floor(egress.as_ref(), ingress.as_ref()) {
                    self.note_error(&LeaseError::Policy(e));
                }
                true
            })
        });
    }

    /// Opens the provider key sealed to `kx` in an answer for `lease_id` (the
    /// key rotates with each handshake and refresh).
    fn open_key(&self, body: &Value, kx: &KeyExchange, lease_id: &str) -> Result<bool, LeaseError> {
        match &body["provider_key_sealed"] {
            // An answer about the lease alone (its status) leaves the key as it is.
            _ if body.get("provider_key_sealed").is_none() => {
                Ok(lock(&self.state).has_provider_key)
            }
            Value::Null => {
                self.key.set(None);
                Ok(false)
            }
            sealed => {
                let key = kx
                    .open(sealed, lease_id)
                    .map_err(|message| LeaseError::Refused {
                        what: "the sealed provider key",
                        status: 200,
                        code: "key_exchange_failed".into(),
                        message,
                    })?;
                self.key.set(Some(key));
                Ok(true)
            }
        }
    }

    fn apply(&self, body: &Value, fresh: bool, kx: Option<&KeyExchange>) -> Result<(), LeaseError> {
        let lease_id = if fresh {
            body["lease_id"].as_str().unwrap_or_default().to_string()
        } else {
            lock(&self.state).lease_id.clone()
        };
        let has_key = match kx {
            Some(kx) => self.open_key(body, kx, &lease_id)?,
            None => lock(&self.state).has_provider_key,
        };
        self.apply_limits(body);
        let mut st = lock(&self.state);
        let granted = usd(&body["granted_usd"]);
        st.has_provider_key = has_key;
        if fresh {
            let snap = self.ledger.snapshot();
            st.base = snap.spent.checked_add(snap.reserved).unwrap_or(Money::MAX);
            st.lease_id = lease_id;
            st.provider = body["provider"].as_str().unwrap_or_default().to_string();
            st.provider_base_url = body["provider_base_url"].as_str().map(str::to_string);
        }
        st.granted = granted;
        st.pool_left = pool_left(body);
        let ttl = Duration::from_secs_f64(body["ttl_s"].as_f64().unwrap_or(0.0).max(0.0));
        // Stop spending a little before the server's expiry (clock skew free: a duration).
        let margin = (ttl / 10).min(Duration::from_secs(30));
        st.lifetime = ttl;
        st.deadline = Some(Instant::now() + ttl.saturating_sub(margin));
        let was_stopped = st.stop_requested;
        st.stop_requested = body["stop"].as_bool().unwrap_or(false);
        st.live = body["status"] == "active" && !st.stop_requested;
        let stop_now = st.stop_requested;
        let limit = if st.live && self.outbox.error().is_none() {
            st.base.checked_add(granted).unwrap_or(Money::MAX)
        } else {
            self.frozen_limit()
        };
        drop(st);
        self.ledger.set_limit(limit);
        if stop_now {
            self.stopped(body);
        } else if was_stopped {
            lock(&self.state).stop_reason.clear();
            self.set_halt(None);
        }
        self.connected.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// What is already used: the limit that admits nothing new.
    fn frozen_limit(&self) -> Money {
        let snap = self.ledger.snapshot();
        snap.spent.checked_add(snap.reserved).unwrap_or(Money::MAX)
    }

    fn freeze(&self) {
        lock(&self.state).live = false;
        self.ledger.set_limit(self.frozen_limit());
    }

    fn handshake(&self) -> Result<(), LeaseError> {
        let kx = key_exchange()?;
        let body = json!({"requested_usd": self.cfg.slice.to_usd_f64(), "runtime": self.cfg.runtime,
                          "key_exchange": kx.request()});
        let (status, answer) = self
            .http
            .post("/budget/handshake", &self.cfg.ic_token, &body)?;
        if status != 201 {
            return Err(refused("a lease", status, &answer));
        }
        self.apply(&answer, true, Some(&kx))
    }

    fn refresh(&self) -> Result<(), LeaseError> {
        let lease_id = lock(&self.state).lease_id.clone();
        let kx = key_exchange()?;
        let body = json!({"lease_id": lease_id, "requested_usd": self.top_up().to_usd_f64(),
                          "key_exchange": kx.request()});
        let (status, answer) = self
            .http
            .post("/budget/refresh", &self.cfg.ic_token, &body)?;
        match status {
            200 => self.apply(&answer, false, Some(&kx)),
            410 => {
                // The lease closed server-side (expired): a new one.
                self.freeze();
                self.handshake()
            }
            _ => Err(refused("a refresh", status, &answer)),
        }
    }

    /// Sends queued reports until the outbox is empty or a send fails.
    fn flush(&self) -> bool {
        let _one_at_a_time = lock(&self.flushing);
        loop {
            let batch = match self.outbox.next_batch(self.cfg.batch_size) {
                Ok(b) => b,
                Err(e) => {
                    self.note_error(&LeaseError::Outbox(e));
                    return false;
                }
            };
            let Some(first) = batch.first() else {
                return true;
            };
            let lease_id = first.lease_id.clone();
            // Breaker transitions ride in the same queue, sent as the batch's `events`.
            let (events, reports): (Vec<&Value>, Vec<&Value>) = batch
                .iter()
                .map(|p| &p.report)
                .partition(|r| r.get("kind").is_some());
            let mut body = json!({"lease_id": lease_id, "reports": reports});
            if !events.is_empty() {
                body["events"] = json!(events);
            }
            match self.http.post("/budget/report", &self.cfg.ic_token, &body) {
                Ok((200, answer)) => {
                    let seqs: Vec<i64> = batch.iter().map(|p| p.seq).collect();
                    if let Err(e) = self.outbox.remove(&seqs) {
                        self.note_error(&LeaseError::Outbox(e));
                        return false;
                    }
                    self.sent.fetch_add(seqs.len() as u64, Ordering::Relaxed);
                    self.connected.store(true, Ordering::Relaxed);
                    // The answer carries the lease as a poll would see it: a busy
                    // runtime learns of a stop, an expiry or new limits from its
                    // reports and needs no poll of its own.
                    let current = lock(&self.state).lease_id.clone();
                    if answer["lease"]["lease_id"] == current.as_str() {
                        self.on_lease(&answer["lease"]);
                        self.heard.store(true, Ordering::Relaxed);
                    }
                }
                Ok((422, answer)) if self.drop_uncharged(&batch) => {
                    // A Control Panel older than refusal reports: they cost nothing, so
                    // they are dropped and the charged reports go on.
                    self.note_error(&refused("refusal reports", 422, &answer));
                }
                Ok((status, answer)) => {
                    // 4xx on a report is permanent (e.g. the lease is unknown): keep the
                    // reports, say why, and try again later rather than drop spend.
                    self.note_error(&refused("usage reports", status, &answer));
                    return false;
                }
                Err(e) => {
                    self.note_error(&e);
                    return false;
                }
            }
        }
    }

    /// Deletes the batch's reports that carry no money (refusals, failures, breaker
    /// transitions); true when there were any.
    fn drop_uncharged(&self, batch: &[crate::outbox::Pending]) -> bool {
        let seqs: Vec<i64> = batch
            .iter()
            .filter(|p| {
                p.report.get("kind").is_some()
                    || p.report["status"]
                        .as_str()
                        .is_some_and(|s| refusals::STATUSES.contains(&s))
            })
            .map(|p| p.seq)
            .collect();
        !seqs.is_empty() && self.outbox.remove(&seqs).is_ok()
    }

    /// The server says the agent was stopped: spend nothing, and refuse every call
    /// saying who stopped it and when.
    fn stopped(&self, lease: &Value) {
        let reason = stopped_message(lease["stopped_by"].as_str(), lease["stopped_at"].as_str());
        {
            let mut st = lock(&self.state);
            st.stop_requested = true;
            st.stop_reason.clone_from(&reason);
        }
        self.freeze();
        self.set_halt(Some(&reason));
    }

    fn set_halt(&self, reason: Option<&str>) {
        lock(&self.pipelines).retain(|w| {
            w.upgrade().is_some_and(|p| {
                p.set_halt(reason);
                true
            })
        });
    }

    fn give_back(&self) {
        let (lease_id, live) = {
            let st = lock(&self.state);
            (st.lease_id.clone(), st.live)
        };
        if lease_id.is_empty() {
            return;
        }
        match self.http.post(
            "/budget/return",
            &self.cfg.ic_token,
            &json!({"lease_id": lease_id}),
        ) {
            Ok((200, _)) => {
                lock(&self.state).live = false;
            }
            Ok((status, answer)) => self.note_error(&refused("the return", status, &answer)),
            Err(e) => self.note_error(&e),
        }
        let _ = live;
    }

    /// Asks the server about the lease (between reports: a stop, or a server-side expiry).
    fn poll(&self) {
        let lease_id = lock(&self.state).lease_id.clone();
        if lease_id.is_empty() {
            return;
        }
        match self
            .http
            .get(&format!("/budget/leases/{lease_id}"), &self.cfg.ic_token)
        {
            Ok((200, answer)) => {
                self.connected.store(true, Ordering::Relaxed);
                self.on_lease(&answer);
            }
            Ok((status, answer)) => self.note_error(&refused("the lease status", status, &answer)),
            Err(e) => self.note_error(&e),
        }
    }

    /// Takes the server's view of the live lease (a poll's answer, or the `lease` of a
    /// report's): its limits, a stop, an expiry server-side, a resume.
    fn on_lease(&self, lease: &Value) {
        self.apply_limits(lease);
        lock(&self.state).pool_left = pool_left(lease);
        if lease["stop"].as_bool() == Some(true) {
            self.stopped(lease);
        } else if lease["status"] != "active" {
            self.freeze(); // expired server-side: the loop handshakes again
        } else if lock(&self.state).stop_requested {
            // Resumed by an admin: the lease admits again.
            if let Err(e) = self.apply(lease, false, None) {
                self.note_error(&e);
            }
        }
    }

    /// What the live lease still admits: its grant less what this runtime used since it began.
    fn lease_remaining(&self, st: &LeaseState) -> Money {
        let snap = self.ledger.snapshot();
        let used = snap.spent.checked_add(snap.reserved).unwrap_or(Money::MAX);
        st.granted.saturating_sub(used.saturating_sub(st.base))
    }

    /// A refresh asks for what tops the lease up to one slice (a refresh for its half-life
    /// would otherwise add a whole slice each time and hold money other runtimes of the agent
    /// cannot lease); at least a hundredth of a slice, which also restarts its clock.
    fn top_up(&self) -> Money {
        let remaining = self.lease_remaining(&lock(&self.state));
        let floor = Money::from_micros((self.cfg.slice.micros() / 100).max(1));
        let wanted = self.cfg.slice.saturating_sub(remaining);
        if wanted.micros() < floor.micros() {
            floor
        } else {
            wanted
        }
    }

    fn due_for_refresh(&self) -> bool {
        let st = lock(&self.state);
        if st.stop_requested {
            return false;
        }
        if !st.live {
            return true;
        }
        let remaining = self.lease_remaining(&st);
        // Running low asks for more only while the allocation has more to give: once the
        // server says it is used up, asking at every flush would be refused at every
        // flush. A report's or poll's answer says when an admin adds budget.
        let low = remaining.micros() as f64
            <= self.cfg.slice.micros() as f64 * self.cfg.refresh_below
            && st.pool_left.is_none_or(|left| left > Money::ZERO);
        let half_life = st
            .deadline
            .is_some_and(|d| d.saturating_duration_since(Instant::now()) < st.lifetime / 2);
        low || half_life
    }

    fn run(&self) {
        // Between reports, ask about the lease every few flush intervals (a stop, an expiry).
        let poll_every = (self.cfg.flush_interval * 5).max(Duration::from_secs(1));
        let mut last_poll = Instant::now();
        // Rounds in a row whose last request found the server down.
        let mut misses = 0u32;
        loop {
            if misses == 0 {
                // Up: a round every flush interval, or as soon as a report is queued.
                let closing = lock(&self.closing);
                if *closing {
                    return;
                }
                let (closing, _) = self
                    .wake
                    .wait_timeout(closing, self.cfg.flush_interval)
                    .unwrap_or_else(PoisonError::into_inner);
                if *closing {
                    return;
                }
            } else {
                // Down: back off, and let no queued report cut the wait short (a busy
                // runtime would otherwise retry at its call rate); only closing does.
                let lifetime = lock(&self.state).lifetime;
                let wait = backoff(self.cfg.flush_interval, lifetime, misses, unit_random());
                self.backoff_ms.store(
                    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                let until = Instant::now() + wait;
                let mut closing = lock(&self.closing);
                loop {
                    if *closing {
                        return;
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    closing = self
                        .wake
                        .wait_timeout(closing, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            // A lease past its local deadline admits nothing until refreshed.
            let expired = lock(&self.state)
                .deadline
                .is_some_and(|d| Instant::now() >= d);
            if expired && lock(&self.state).live {
                self.freeze();
            }
            self.queue_refused();
            self.flush();
            // A report answered since the last look told the runtime about its lease.
            if self.heard.swap(false, Ordering::Relaxed) {
                last_poll = Instant::now();
            } else if last_poll.elapsed() >= poll_every {
                last_poll = Instant::now();
                self.poll();
            }
            if self.due_for_refresh() {
                let live = lock(&self.state).live;
                let result = if live {
                    self.refresh()
                } else {
                    self.handshake()
                };
                if let Err(e) = result {
                    self.note_error(&e);
                }
            }
            if self.http.down.load(Ordering::Relaxed) {
                misses = misses.saturating_add(1);
            } else {
                misses = 0;
                self.backoff_ms.store(0, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{
        api_bases, backoff, json, rfc3339, stopped_message, Http, LeaseClient, LeaseConfig,
        LeaseError, Value,
    };
    use iron_cost::{Ledger, Money};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A loopback HTTP server answering every request with `status` and `{"ok":N}`
    /// (N = its port), for `count` requests.
    fn replica(status: u16, count: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let body = format!("{{\"ok\":{port}}}");
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    /// A URL nothing listens on.
    fn dead() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    }

    #[test]
    fn parses_replica_lists() {
        assert_eq!(api_bases("http://a:1"), vec!["http://a:1/api/v1"]);
        assert_eq!(
            api_bases(" http://a:1/ , http://b:2/api/v1,,"),
            vec!["http://a:1/api/v1", "http://b:2/api/v1"]
        );
        assert!(api_bases(" , ").is_empty());
    }

    #[test]
    fn fails_over_to_the_next_replica_and_sticks_to_it() {
        let live = replica(200, 2);
        let http = Http::new(&format!("{},{live}", dead()), Duration::from_secs(2)).unwrap();
        let (status, body) = http.get("/x", "t").unwrap();
        assert_eq!(status, 200);
        assert!(body["ok"].is_u64());
        assert_eq!(http.base(), format!("{live}/api/v1"));
        assert_eq!(http.failovers.load(Ordering::Relaxed), 1);
        // Sticky: the next request goes straight to the replica that answered.
        assert_eq!(http.get("/x", "t").unwrap().0, 200);
        assert_eq!(http.failovers.load(Ordering::Relaxed), 1);
        assert!(super::lock(&http.last_failover).contains(&live));
    }

    #[test]
    fn a_503_moves_on_but_a_4xx_does_not() {
        let busy = replica(503, 1);
        let live = replica(200, 1);
        let http = Http::new(&format!("{busy},{live}"), Duration::from_secs(2)).unwrap();
        assert_eq!(http.get("/x", "t").unwrap().0, 200);
        assert_eq!(http.base(), format!("{live}/api/v1"));

        let refusing = replica(409, 1);
        let other = replica(200, 1);
        let http = Http::new(&format!("{refusing},{other}"), Duration::from_secs(2)).unwrap();
        assert_eq!(http.get("/x", "t").unwrap().0, 409);
        assert_eq!(http.failovers.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn all_replicas_down_is_unreachable() {
        let http = Http::new(&format!("{},{}", dead(), dead()), Duration::from_secs(2)).unwrap();
        assert!(matches!(
            http.get("/x", "t"),
            Err(LeaseError::Unreachable { .. })
        ));
        assert!(Http::new(" ", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_stopped_agent_is_told_who_stopped_it() {
        let body = serde_json::json!({"error": {"code": "agent_stopped", "message": "agent 3 is stopped",
            "details": {"stopped_by": "admin@example.com (admin)", "stopped_at": "2026-12-07T12:00:00Z"}}});
        let e = super::refused("a lease", 409, &body);
        assert!(matches!(e, LeaseError::Stopped { .. }));
        let text = e.to_string();
        assert!(
            text.contains(
                "stopped in the Control Panel by admin@example.com (admin) at 2026-12-07T12:00:00Z"
            ),
            "{text}"
        );
        assert!(stopped_message(None, None).contains("stopped in the Control Panel by an admin"));
        // Another refusal stays what the server said.
        let other =
            serde_json::json!({"error": {"code": "budget_exceeded", "message": "no budget"}});
        assert!(matches!(
            super::refused("a lease", 402, &other),
            LeaseError::Refused { status: 402, .. }
        ));
    }

    /// A loopback Control Panel that grants one lease and acknowledges every report,
    /// recording each request's method and path.
    fn control_panel(seen: Arc<Mutex<Vec<String>>>) -> String {
        control_panel_granting(seen, 1.0, 10.0)
    }

    /// As [`control_panel`], its lease granting `granted` with `pool_left` left in the allocation.
    fn control_panel_granting(
        seen: Arc<Mutex<Vec<String>>>,
        granted: f64,
        pool_left: f64,
    ) -> String {
        control_panel_down_when(seen, granted, pool_left, Arc::new(AtomicBool::new(false)))
    }

    /// As [`control_panel_granting`], answering 503 to everything but the handshake
    /// while `down` is set.
    fn control_panel_down_when(
        seen: Arc<Mutex<Vec<String>>>,
        granted: f64,
        pool_left: f64,
        down: Arc<AtomicBool>,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                stream.read_exact(&mut body).unwrap();
                let line = head.lines().next().unwrap_or_default().to_string();
                let request: Vec<&str> = line.split(' ').collect();
                let path = request[1].to_string();
                super::lock(&seen).push(format!("{} {path}", request[0]));
                let lease = json!({"lease_id": "L1", "agent_id": 1, "granted_usd": granted, "spent_usd": 0.0,
                    "lease_remaining_usd": granted, "remaining_usd": pool_left, "expires_at": "2030-01-01T00:00:00Z",
                    "ttl_s": 600.0, "status": "active", "provider": "openai", "stop": false, "limits": {}});
                let (status, answer) = if path.ends_with("/budget/handshake") {
                    (201, lease)
                } else if down.load(Ordering::Relaxed) {
                    (
                        503,
                        json!({"error": {"code": "database_unavailable", "message": "down"}}),
                    )
                } else if path.ends_with("/budget/report") {
                    let sent: Value = serde_json::from_slice(&body).unwrap();
                    let n = sent["reports"].as_array().map_or(0, Vec::len);
                    (200, json!({"accepted": n, "duplicates": 0, "lease": lease}))
                } else {
                    (200, lease)
                };
                let answer = answer.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    #[test]
    fn a_busy_runtime_learns_of_its_lease_from_report_answers_and_polls_only_when_idle() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (client, outbox) = start_client(control_panel(Arc::clone(&seen)), "poll");
        let count = |what: &str| {
            super::lock(&seen)
                .iter()
                .filter(|r| r.contains(what))
                .count()
        };
        // Busy for 2.5 s, past two poll intervals (1 s): a call every 10 ms.
        let started = std::time::Instant::now();
        let mut n = 0;
        while started.elapsed() < Duration::from_millis(2500) {
            let report =
                json!({"request_id": format!("r{n}"), "model": "gpt-4o", "cost_usd": "0.000001"});
            client.inner.outbox.push("L1", &report).unwrap();
            client.inner.wake.notify_all();
            n += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        let reports = count("POST /api/v1/budget/report");
        assert!(reports >= 10, "{reports} reports");
        assert_eq!(
            count("GET /api/v1/budget/leases/L1"),
            0,
            "a busy runtime polled ({reports} reports)"
        );
        // Idle: nothing to report, so the runtime asks about its lease itself.
        std::thread::sleep(Duration::from_millis(2300));
        assert!(
            count("GET /api/v1/budget/leases/L1") >= 1,
            "an idle runtime never polled"
        );
        client.close();
        let _ = std::fs::remove_file(&outbox);
    }

    #[test]
    fn backoff_doubles_per_miss_up_to_a_quarter_of_the_lease_and_30_s_with_jitter() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let ttl = s(600);
        // jitter 0: half the step; jitter just under 1: the whole step.
        assert_eq!(backoff(s(1), ttl, 1, 0.0), ms(500));
        assert_eq!(backoff(s(1), ttl, 1, 0.999_999).as_millis(), 999);
        assert_eq!(backoff(s(1), ttl, 3, 0.0), s(2));
        assert_eq!(backoff(s(1), ttl, 5, 0.0), s(8));
        assert_eq!(backoff(s(1), ttl, 40, 0.0), s(15)); // capped at 30 s
                                                        // A short lease caps the wait at a quarter of it, never below the flush interval.
        assert_eq!(backoff(s(1), s(20), 10, 0.0), ms(2500));
        assert_eq!(backoff(s(1), s(2), 10, 0.0), ms(500));
        // Before any lease (no lifetime yet) the 30 s cap applies.
        assert_eq!(backoff(s(1), Duration::ZERO, 40, 0.0), s(15));
    }

    #[test]
    fn a_busy_runtime_backs_off_while_the_control_panel_is_down_and_delivers_after() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let url = control_panel_down_when(Arc::clone(&seen), 1.0, 10.0, Arc::clone(&down));
        let (client, outbox) = start_client(url, "backoff");
        let reports = || {
            super::lock(&seen)
                .iter()
                .filter(|r| r.ends_with("/budget/report"))
                .count()
        };
        down.store(true, Ordering::Relaxed);
        // A call every 10 ms for 1.5 s, each waking the worker, against a server answering 503.
        let started = std::time::Instant::now();
        let mut n = 0;
        while started.elapsed() < Duration::from_millis(1500) {
            let report =
                json!({"request_id": format!("b{n}"), "model": "gpt-4o", "cost_usd": "0.000001"});
            client.inner.outbox.push("L1", &report).unwrap();
            client.inner.wake.notify_all();
            n += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        let tried = reports();
        // Without backoff every queued call would be one attempt (~150); doubling from the
        // 20 ms flush interval fits at most about a dozen attempts in 1.5 s.
        assert!(tried >= 2, "{tried} attempts");
        assert!(
            tried <= 14,
            "{tried} attempts against a server that is down"
        );
        let status = client.status();
        assert!(status["retry_in_ms"].as_u64().unwrap() > 0, "{status}");
        assert!(status["pending_reports"].as_u64().unwrap() >= n, "{status}");
        // Back up: the next attempt delivers everything, and the worker stops backing off.
        down.store(false, Ordering::Relaxed);
        let back = std::time::Instant::now();
        while !client.inner.outbox.is_empty() && back.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(client.inner.outbox.is_empty(), "{}", client.status());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(client.status()["retry_in_ms"], 0);
        client.close();
        let _ = std::fs::remove_file(&outbox);
    }

    /// A lease client on `url`: slice $1, a flush every 20 ms, its outbox in the temp dir.
    fn start_client(url: String, name: &str) -> (LeaseClient, std::path::PathBuf) {
        let outbox =
            std::env::temp_dir().join(format!("ic-lease-{name}-{}.db", std::process::id()));
        let cfg = LeaseConfig {
            server_url: url,
            ic_token: "ic_test".into(),
            slice: Money::from_micros(1_000_000),
            refresh_below: 0.25,
            flush_interval: Duration::from_millis(20),
            batch_size: 500,
            outbox_path: outbox.clone(),
            timeout: Duration::from_secs(5),
            runtime: "test".into(),
        };
        let client = LeaseClient::start(cfg, Ledger::new("t", Money::from_micros(0), &[])).unwrap();
        (client, outbox)
    }

    /// Runs a lease client on `url` for 1.5 s.
    fn run_for_a_while(url: String, name: &str) {
        let (client, outbox) = start_client(url, name);
        std::thread::sleep(Duration::from_millis(1500));
        client.close();
        let _ = std::fs::remove_file(&outbox);
    }

    #[test]
    fn a_low_lease_is_refreshed_only_while_the_allocation_has_more() {
        // $0.10 granted of a $1 slice: low from the start.
        let seen = Arc::new(Mutex::new(Vec::new()));
        run_for_a_while(control_panel_granting(Arc::clone(&seen), 0.1, 5.0), "more");
        let refreshes = super::lock(&seen)
            .iter()
            .filter(|r| r.ends_with("/budget/refresh"))
            .count();
        assert!(
            refreshes >= 1,
            "a low lease with budget left was not refreshed"
        );

        let seen = Arc::new(Mutex::new(Vec::new()));
        run_for_a_while(
            control_panel_granting(Arc::clone(&seen), 0.1, 0.0),
            "used-up",
        );
        let refreshes = super::lock(&seen)
            .iter()
            .filter(|r| r.ends_with("/budget/refresh"))
            .count();
        assert_eq!(
            refreshes, 0,
            "refreshed {refreshes} times against a used-up allocation"
        );
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_500)),
            "2000-02-29T00:00:00.500000Z"
        );
        assert_eq!(
            rfc3339(Duration::from_millis(1_795_307_906_250)),
            "2026-11-22T00:38:26.250000Z"
        );
    }
}
