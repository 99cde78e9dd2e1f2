//! `LeaseClientCore`: the Rust lease client (handshake, local enforcement,
//! outbox, refresh, return) for `AgentRuntime(control_panel=...)` and
//! `LlmRouter(server_url=...)`.

use std::path::PathBuf;
use std::sync::Arc;

use iron_runtime::{LeaseClient, LeaseConfig};
use pyo3::prelude::*;

use crate::budget::PyBudget;
use crate::convert::money_arg;
use crate::errors::{config, seconds, Result};
use crate::governor::PyGovernor;
use crate::router::PyRouter;

/// A live lease from the Control Panel, enforced through `budget`'s limit.
#[derive(Debug)]
#[pyclass(name = "LeaseClientCore", module = "iron_cage._core", frozen)]
pub struct PyLeaseClient {
    inner: Arc<LeaseClient>,
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
    #[getter]
    fn provider_key(&self) -> Option<String> {
        self.inner.state().provider_key
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
