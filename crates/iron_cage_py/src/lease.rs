//! `LeaseClientCore`: the Rust lease client (handshake, local enforcement,
//! outbox, refresh, return) for `AgentRuntime(control_panel=...)` and
//! `LlmRouter(server_url=...)`.

use std::path::PathBuf;
use std::sync::Arc;

use iron_cost::Provider;
use iron_runtime::{KeyProxy, LeaseClient, LeaseConfig};
use pyo3::prelude::*;

use crate::budget::PyBudget;
use crate::convert::money_arg;
use crate::errors::{config, os_error, seconds, Result};
use crate::governor::PyGovernor;
use crate::router::PyRouter;

/// A live lease from the Control Panel, enforced through `budget`'s limit.
#[derive(Debug)]
#[pyclass(name = "LeaseClientCore", module = "iron_cage._core", frozen)]
pub struct PyLeaseClient {
    pub(crate) inner: Arc<LeaseClient>,
}

#[pymethods]
impl PyLeaseClient {
    #[new]
    #[pyo3(signature = (budget, server_url, ic_token, *, slice_usd, outbox_path, refresh_below = 0.25,
                        flush_interval_s = 1.0, batch_size = 500, timeout_s = 10.0, runtime = String::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        budget: PyRef<'_, PyBudget>,
        server_url: String,
        ic_token: String,
        slice_usd: &Bound<'_, PyAny>,
        outbox_path: PathBuf,
        refresh_below: f64,
        flush_interval_s: f64,
        batch_size: usize,
        timeout_s: f64,
        runtime: String,
    ) -> Result<Self> {
        if !(0.0..1.0).contains(&refresh_below) {
            return Err(config("refresh_below must be a fraction in [0, 1)"));
        }
        if batch_size == 0 || batch_size > 1000 {
            return Err(config("batch_size must be between 1 and 1000"));
        }
        let cfg = LeaseConfig {
            server_url,
            ic_token,
            slice: money_arg(slice_usd, "slice_usd")?,
            refresh_below,
            flush_interval: seconds(flush_interval_s, "flush_interval_s", false)?,
            batch_size,
            outbox_path,
            timeout: seconds(timeout_s, "timeout_s", false)?,
            runtime,
        };
        let ledger = Arc::clone(&budget.ledger);
        let client = py.detach(|| LeaseClient::start(cfg, ledger))?;
        Ok(PyLeaseClient {
            inner: Arc::new(client),
        })
    }

    /// Reports every governed call of a `GovernorCore` or `RouterCore`.
    fn attach(&self, core: &Bound<'_, PyAny>) -> Result<()> {
        if let Ok(g) = core.cast::<PyGovernor>() {
            self.inner.attach(g.get().pipeline());
        } else if let Ok(r) = core.cast::<PyRouter>() {
            self.inner.attach(r.get().pipeline());
        } else {
            return Err(config("attach() takes a GovernorCore or a RouterCore"));
        }
        Ok(())
    }

    #[getter]
    fn lease_id(&self) -> String {
        self.inner.state().lease_id
    }
    #[getter]
    fn live(&self) -> bool {
        self.inner.state().live
    }
    #[getter]
    fn stop_requested(&self) -> bool {
        self.inner.state().stop_requested
    }
    #[getter]
    fn granted_usd(&self) -> f64 {
        self.inner.state().granted.to_usd_f64()
    }
    #[getter]
    fn provider(&self) -> String {
        self.inner.state().provider
    }
    /// Whether the server released a provider key (sealed to this runtime and
    /// held in Rust: no Python object ever sees it).
    #[getter]
    fn has_provider_key(&self) -> bool {
        self.inner.state().has_provider_key
    }
    #[getter]
    fn provider_base_url(&self) -> Option<String> {
        self.inner.state().provider_base_url
    }
    #[getter]
    fn pending_reports(&self) -> usize {
        self.inner.pending()
    }

    /// Connection, lease and outbox status as JSON.
    fn status_json(&self) -> String {
        self.inner.status().to_string()
    }

    /// Sends queued reports now; True when none are left.
    fn flush(&self, py: Python<'_>) -> bool {
        py.detach(|| self.inner.flush())
    }

    /// Stops the worker, flushes and returns the lease (idempotent).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }

    fn __repr__(&self) -> String {
        let st = self.inner.state();
        format!(
            "LeaseClientCore(lease_id={:?}, granted_usd={}, live={})",
            st.lease_id,
            st.granted.to_usd_f64(),
            st.live
        )
    }
}

/// The key proxy of a runtime whose provider key is held by the Control Panel
/// (library mode sends its governed calls here; the key stays in Rust).
#[derive(Debug)]
#[pyclass(name = "KeyProxyCore", module = "iron_cage._core", frozen)]
pub struct PyKeyProxy {
    proxy: std::sync::Mutex<KeyProxy>,
    origin: String,
    token: String,
}

#[pymethods]
impl PyKeyProxy {
    /// A proxy to the lease's provider (or `base_url`), signing with the lease's key.
    #[new]
    #[pyo3(signature = (lease, base_url = None))]
    fn new(
        py: Python<'_>,
        lease: PyRef<'_, PyLeaseClient>,
        base_url: Option<String>,
    ) -> Result<Self> {
        let state = lease.inner.state();
        let provider = if state.provider == "anthropic" {
            Provider::Anthropic
        } else {
            Provider::OpenAi
        };
        let default_base = if provider == Provider::Anthropic {
            "https://api.anthropic.com/v1"
        } else {
            "https://api.openai.com/v1"
        };
        let base = base_url
            .or(state.provider_base_url)
            .unwrap_or_else(|| default_base.to_owned());
        let key = lease.inner.key_slot();
        let proxy = py
            .detach(|| KeyProxy::start(&base, provider, key))
            .map_err(|e| os_error(format!("the key proxy could not start: {e}")))?;
        Ok(PyKeyProxy {
            origin: proxy.origin(),
            token: proxy.token().to_owned(),
            proxy: std::sync::Mutex::new(proxy),
        })
    }

    /// `http://127.0.0.1:<port>`.
    #[getter]
    fn origin(&self) -> &str {
        &self.origin
    }

    /// The token the runtime presents (`x-iron-cage-proxy-token`); not a provider key.
    #[getter]
    fn token(&self) -> &str {
        &self.token
    }

    fn stop(&self, py: Python<'_>) {
        py.detach(|| {
            if let Ok(mut p) = self.proxy.lock() {
                p.stop();
            }
        });
    }

    fn __repr__(&self) -> String {
        format!("KeyProxyCore({:?})", self.origin)
    }
}
