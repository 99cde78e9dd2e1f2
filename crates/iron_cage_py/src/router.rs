//! `RouterCore` and `FakeProviderCore`: the router and the fake provider, each
//! serving on its own tokio runtime in background threads.

use iron_runtime::{FakeProvider, Fault, KeySlot, Pipeline, Router, RouterConfig};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::Arc;

use crate::budget::PyBudget;
use crate::errors::{config, os_error, seconds, Result};
use crate::governor::build_pipeline;
use crate::lease::PyLeaseClient;
use crate::pii::PyPiiScanner;

/// The governed loopback proxy (the Python `LlmRouter` wraps it).
#[derive(Debug)]
#[pyclass(name = "RouterCore", module = "iron_cage._core", frozen)]
pub struct PyRouter {
    router: std::sync::Mutex<Router>,
    pipeline: Arc<Pipeline>,
    base_url: String,
    port: u16,
    api_key: String,
}

impl PyRouter {
    /// The pipeline (for the lease client to subscribe to its events).
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }
}

#[pymethods]
impl PyRouter {
    #[new]
    #[pyo3(signature = (*, api_key, budget = None, scanner = None, openai_upstream, anthropic_upstream,
                        openai_key = None, anthropic_key = None, circuit_breaker = true, failure_threshold = 5,
                        cooldown_s = 60.0, host = "127.0.0.1".to_owned(), port = 0, max_body_bytes = 8 << 20,
                        upstream_timeout_s = 600.0, events_path = None, threads = 1,
                        unbounded_reserve_usd = None, lease = None, egress = None, egress_scanner = None, ingress = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        api_key: String,
        budget: Option<PyRef<'_, PyBudget>>,
        scanner: Option<PyRef<'_, PyPiiScanner>>,
        openai_upstream: String,
        anthropic_upstream: String,
        openai_key: Option<String>,
        anthropic_key: Option<String>,
        circuit_breaker: bool,
        failure_threshold: u32,
        cooldown_s: f64,
        host: String,
        port: u16,
        max_body_bytes: usize,
        upstream_timeout_s: f64,
        events_path: Option<String>,
        threads: usize,
        unbounded_reserve_usd: Option<f64>,
        lease: Option<PyRef<'_, PyLeaseClient>>,
        egress: Option<String>,
        egress_scanner: Option<PyRef<'_, PyPiiScanner>>,
        ingress: Option<String>,
    ) -> Result<Self> {
        for (name, url) in [
            ("upstream", &openai_upstream),
            ("anthropic_upstream", &anthropic_upstream),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(config(format!(
                    "{name} must be an http:// or https:// base URL like https://api.openai.com/v1, got {url:?}"
                )));
            }
        }
        let upstream_timeout = seconds(upstream_timeout_s, "upstream_timeout_s", false)?;
        let pipeline = build_pipeline(
            budget,
            scanner,
            circuit_breaker.then_some((failure_threshold, cooldown_s)),
            unbounded_reserve_usd,
            egress.as_deref(),
            egress_scanner,
            ingress.as_deref(),
        )?;
        if let Some(path) = events_path {
            pipeline
                .events()
                .log_to(std::path::Path::new(&path))
                .map_err(|e| os_error(format!("cannot open the events file {path}: {e}")))?;
        }
        let mut openai_key = KeySlot::holding(openai_key);
        let mut anthropic_key = KeySlot::holding(anthropic_key);
        // A key the Control Panel released is opened and held by the lease, in Rust.
        if let Some(lease) = &lease {
            if lease.inner.state().has_provider_key {
                if lease.inner.state().provider == "anthropic" {
                    anthropic_key = lease.inner.key_slot();
                } else {
                    openai_key = lease.inner.key_slot();
                }
            }
        }
        let rc = RouterConfig {
            host,
            port,
            api_key: api_key.clone(),
            openai_upstream,
            anthropic_upstream,
            openai_key,
            anthropic_key,
            max_body_bytes,
            upstream_timeout,
            threads: threads.clamp(1, 64),
        };
        let p2 = Arc::clone(&pipeline);
        let router = py
            .detach(move || Router::start(rc, p2))
            .map_err(|e| os_error(format!("the router could not start: {e}")))?;
        Ok(PyRouter {
            base_url: router.base_url(),
            port: router.port(),
            router: std::sync::Mutex::new(router),
            pipeline,
            api_key,
        })
    }

    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }
    #[getter]
    fn api_key(&self) -> &str {
        &self.api_key
    }
    #[getter]
    fn is_running(&self) -> bool {
        self.router.lock().is_ok_and(|r| r.is_running())
    }
    #[getter]
    fn spent_usd(&self) -> f64 {
        self.pipeline.ledger().spent().to_usd_f64()
    }
    #[getter]
    fn limit_usd(&self) -> f64 {
        self.pipeline.ledger().limit().to_usd_f64()
    }
    fn set_limit(&self, limit: &Bound<'_, PyAny>) -> Result<()> {
        let m = crate::convert::money_arg(limit, "budget")?;
        self.pipeline.ledger().set_limit(m);
        Ok(())
    }
    /// Counters as a JSON string.
    fn metrics_json(&self) -> String {
        self.pipeline.metrics().to_string()
    }
    /// Calls `callback(event_json: str)` for every event, on the router's threads.
    fn subscribe(&self, callback: Py<PyAny>) -> u64 {
        crate::governor::subscribe_py(self.pipeline.events(), callback)
    }
    fn unsubscribe(&self, subscription: u64) -> bool {
        self.pipeline.events().unsubscribe(subscription)
    }
    fn stop(&self, py: Python<'_>) {
        py.detach(|| {
            if let Ok(mut r) = self.router.lock() {
                r.stop();
            }
        });
    }
}

/// The fake provider (the Python `FakeProvider` wraps it).
#[derive(Debug)]
#[pyclass(name = "FakeProviderCore", module = "iron_cage._core", frozen)]
pub struct PyFakeProvider {
    inner: std::sync::Mutex<FakeProvider>,
    state: Arc<iron_runtime::FakeState>,
    base_url: String,
    port: u16,
}

#[pymethods]
impl PyFakeProvider {
    #[new]
    #[pyo3(signature = (*, port = 0, api_key = None, host = "127.0.0.1".to_owned()))]
    fn new(py: Python<'_>, port: u16, api_key: Option<String>, host: String) -> Result<Self> {
        let fp = py
            .detach(|| FakeProvider::start_on(&host, port, api_key))
            .map_err(|e| {
                os_error(format!(
                    "the fake provider could not start on port {port}: {e}"
                ))
            })?;
        Ok(PyFakeProvider {
            state: Arc::clone(fp.state()),
            base_url: fp.base_url(),
            port: fp.port(),
            inner: std::sync::Mutex::new(fp),
        })
    }
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }
    #[getter]
    fn request_count(&self) -> u64 {
        self.state.request_count()
    }
    #[getter]
    fn is_running(&self) -> bool {
        self.inner.lock().is_ok_and(|f| f.is_running())
    }
    #[pyo3(signature = (status, times = 1, retry_after = None))]
    fn fail_next(&self, status: u16, times: u64, retry_after: Option<u64>) -> Result<()> {
        if !(400..=599).contains(&status) {
            return Err(config(format!(
                "status must be an HTTP error status (400-599), got {status}"
            )));
        }
        self.state.push_fault(
            Fault::Status {
                status,
                retry_after,
            },
            times,
        );
        Ok(())
    }
    #[pyo3(signature = (after_chunks, times = 1))]
    fn disconnect_next(&self, after_chunks: usize, times: u64) {
        self.state
            .push_fault(Fault::Disconnect { after_chunks }, times);
    }
    fn clear_faults(&self) {
        self.state.clear_faults();
    }
    fn set_latency(&self, seconds: f64) -> Result<()> {
        let latency = crate::errors::seconds(seconds, "latency", true)?;
        self.state.set_latency(latency);
        Ok(())
    }
    fn set_cached_tokens(&self, tokens: u64) {
        self.state.set_cached_tokens(tokens);
    }
    fn set_chunk_chars(&self, chars: u64) {
        self.state.set_chunk_chars(chars);
    }
    #[pyo3(signature = (text, at_request = None))]
    fn script_reply(&self, text: String, at_request: Option<u64>) {
        self.state.script_reply(text, at_request);
    }
    /// The requests received, as a JSON string (a list).
    fn requests_json(&self) -> String {
        serde_json::Value::Array(self.state.requests()).to_string()
    }
    fn stop(&self, py: Python<'_>) -> Result<()> {
        let ok = py.detach(|| self.inner.lock().map(|mut f| f.stop()).is_ok());
        if ok {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err("the fake provider's lock is poisoned").into())
        }
    }
}

/// The reply FakeProvider would send to request number `n` on `path`, rendered
/// in-process: `(body, is_stream)`, or `None` for a path that is no model endpoint.
#[pyfunction]
#[pyo3(signature = (path, body, n, text = None))]
pub fn render_fake_reply(
    path: &str,
    body: &[u8],
    n: u64,
    text: Option<String>,
) -> Option<(Vec<u8>, bool)> {
    iron_runtime::fake::render_reply(path, body, n, text)
}
