//! `GovernorCore`: the policy pipeline for library mode. The Python layer wraps
//! an SDK's HTTP transport and calls `begin` before a request and `complete` or
//! `stream` on its reply — the same Rust pipeline the router runs.

use std::sync::{Arc, Mutex};

use iron_cost::Money;
use iron_llm::ApiFormat;
use iron_reliability::{BreakerConfig, TripRule};
use iron_runtime::{Call, PiiAction, PiiPolicy, Pipeline, PipelineConfig, StreamGuard};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::budget::PyBudget;
use crate::errors::{config, seconds, Error, Result};
use crate::pii::PyPiiScanner;

/// Delivers every event of `bus` to a Python `callback(event_json: str)`;
/// an exception in the callback is reported as unraisable, never propagated.
pub fn subscribe_py(bus: &iron_runtime::EventBus, callback: Py<PyAny>) -> u64 {
    bus.subscribe(move |ev| {
        let text = ev.to_string();
        Python::attach(|py| {
            if let Err(err) = callback.call1(py, (text,)) {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    })
}

/// Bodies above this size are processed with the GIL released.
const DETACH_ABOVE: usize = 64 * 1024;

/// The pipeline shared by every call of one runtime.
#[derive(Debug)]
#[pyclass(name = "GovernorCore", module = "iron_cage._core", frozen)]
pub struct PyGovernor {
    pipeline: Arc<Pipeline>,
}

/// The policy pipeline of one runtime, library mode or router mode alike:
/// spending from `budget`'s ledger (or its own, unlimited), scanning with
/// `scanner`, a breaker per model with `(failure_threshold, cooldown_s)`.
pub(crate) fn build_pipeline(
    budget: Option<PyRef<'_, PyBudget>>,
    scanner: Option<PyRef<'_, PyPiiScanner>>,
    breaker: Option<(u32, f64)>,
    unbounded_reserve_usd: Option<f64>,
    egress: Option<&str>,
    egress_scanner: Option<PyRef<'_, PyPiiScanner>>,
    ingress: Option<&str>,
) -> Result<Arc<Pipeline>> {
    let breaker = match breaker {
        Some((failures, cooldown_s)) => Some(BreakerConfig {
            trip: TripRule::Consecutive(failures),
            cooldown: seconds(cooldown_s, "cooldown_s", true)?,
            ..BreakerConfig::default()
        }),
        None => None,
    };
    let egress = match egress {
        Some(policy) => {
            let value: serde_json::Value = serde_json::from_str(policy)
                .map_err(|e| config(format!("the egress policy is not valid JSON: {e}")))?;
            Some(PiiPolicy::requests_from_json(&value).map_err(config)?)
        }
        None => None,
    };
    // Without a policy of its own the scanner still finds for the Control Panel's.
    let egress_scanner = egress_scanner.map(|s| Arc::clone(&s.inner));
    let scanner = scanner.map(|s| Arc::clone(&s.inner));
    // Per-entity actions for replies over the scanner's mode (allow for the rest without one).
    let ingress = match ingress {
        Some(overrides) => {
            let value: serde_json::Value = serde_json::from_str(overrides)
                .map_err(|e| config(format!("the ingress policy is not valid JSON: {e}")))?;
            let base = scanner
                .as_ref()
                .map_or(PiiAction::Allow, |s| PiiPolicy::action_of_mode(s.mode()));
            Some(PiiPolicy::replies_from_json(base, &value).map_err(config)?)
        }
        None => None,
    };
    let config = PipelineConfig {
        egress,
        egress_scanner,
        ingress,
        scanner,
        breaker,
        unbounded_reserve: unbounded_reserve_usd
            .map(|v| Money::from_usd_f64(v, "unbounded_reserve_usd"))
            .transpose()?,
        ..PipelineConfig::default()
    };
    Ok(match budget {
        Some(b) => Pipeline::with_ledger(config, Arc::clone(&b.ledger)),
        None => Pipeline::new(config),
    }?)
}

impl PyGovernor {
    /// The pipeline (for the lease client to subscribe to its events).
    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }
}

#[pymethods]
impl PyGovernor {
    #[new]
    #[pyo3(signature = (*, budget = None, scanner = None, circuit_breaker = true, failure_threshold = 5, cooldown_s = 60.0, unbounded_reserve_usd = None, egress = None, egress_scanner = None, ingress = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        budget: Option<PyRef<'_, PyBudget>>,
        scanner: Option<PyRef<'_, PyPiiScanner>>,
        circuit_breaker: bool,
        failure_threshold: u32,
        cooldown_s: f64,
        unbounded_reserve_usd: Option<f64>,
        egress: Option<String>,
        egress_scanner: Option<PyRef<'_, PyPiiScanner>>,
        ingress: Option<String>,
    ) -> Result<Self> {
        let pipeline = build_pipeline(
            budget,
            scanner,
            circuit_breaker.then_some((failure_threshold, cooldown_s)),
            unbounded_reserve_usd,
            egress.as_deref(),
            egress_scanner,
            ingress.as_deref(),
        )?;
        Ok(PyGovernor { pipeline })
    }

    /// Admits a call: parses, prices, reserves the worst case and takes a breaker
    /// permit. Returns the call, the body to send when iron-cage changed it
    /// (`None`: send the caller's) and whether the reply will be a stream (here
    /// rather than a getter: one crossing less per call); `None` when `path` is
    /// not a governed endpoint.
    #[allow(clippy::type_complexity)]
    fn begin<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        body: &[u8],
    ) -> Result<Option<(PyCall, Option<Bound<'py, PyBytes>>, bool)>> {
        let Some(format) = ApiFormat::from_path(path) else {
            self.pipeline.check_ungoverned(path)?;
            return Ok(None);
        };
        // Small bodies are faster with the GIL held (a release and re-acquire
        // costs more than the work); large ones let other threads run.
        let call = if body.len() > DETACH_ABOVE {
            let pipeline = Arc::clone(&self.pipeline);
            py.detach(move || pipeline.begin(format, body))
        } else {
            self.pipeline.begin(format, body)
        }?;
        let upstream = call.modified_body().map(|b| PyBytes::new(py, &b));
        let stream = call.is_stream();
        Ok(Some((
            PyCall {
                stream,
                call: Mutex::new(Some(call)),
            },
            upstream,
            stream,
        )))
    }

    #[getter]
    fn spent_usd(&self) -> f64 {
        self.pipeline.ledger().spent().to_usd_f64()
    }
    #[getter]
    fn remaining_usd(&self) -> f64 {
        self.pipeline.ledger().snapshot().remaining.to_usd_f64()
    }
    #[getter]
    fn limit_usd(&self) -> f64 {
        self.pipeline.ledger().limit().to_usd_f64()
    }
    /// Counters as a JSON string.
    fn metrics_json(&self) -> String {
        self.pipeline.metrics().to_string()
    }
    /// Calls `callback(event_json: str)` for every event.
    fn subscribe(&self, callback: Py<PyAny>) -> u64 {
        subscribe_py(self.pipeline.events(), callback)
    }
    /// Emits an event of the Python layer (tool calls) on this runtime's bus:
    /// `fields_json` is a JSON object; `type` and `ts` are added.
    fn emit(&self, kind: &str, fields_json: &str) -> Result<()> {
        if !self.pipeline.events().is_active() {
            return Ok(());
        }
        let fields: serde_json::Value = serde_json::from_str(fields_json)
            .map_err(|e| config(format!("event fields are not a JSON object: {e}")))?;
        self.pipeline.events().emit(kind, fields);
        Ok(())
    }
    fn unsubscribe(&self, subscription: u64) -> bool {
        self.pipeline.events().unsubscribe(subscription)
    }
}

/// One admitted call. Finish it exactly once: `complete`, `stream` or `fail`;
/// dropping it unfinished releases its reservation.
#[derive(Debug)]
#[pyclass(name = "CallCore", module = "iron_cage._core", frozen)]
pub struct PyCall {
    call: Mutex<Option<Call>>,
    stream: bool,
}

impl PyCall {
    fn take(&self) -> Result<Call> {
        self.call
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .ok_or_else(|| Error::Py(PyRuntimeError::new_err("this call was already finished")))
    }
}

#[pymethods]
impl PyCall {
    #[getter]
    fn is_stream(&self) -> bool {
        self.stream
    }

    /// Finishes with the reply's status, `Retry-After` and body; returns the body
    /// to hand to the SDK when it changed (PII redacted), else `None`. Raises
    /// `PiiBlockedError` in block mode.
    #[pyo3(signature = (status, body, retry_after = None))]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        status: u16,
        body: &[u8],
        retry_after: Option<String>,
    ) -> Result<Option<Bound<'py, PyBytes>>> {
        let call = self.take()?;
        let run = || call.complete(status, retry_after.as_deref(), body);
        let out = if body.len() > DETACH_ABOVE {
            py.detach(run)
        } else {
            run()
        }?;
        Ok(out.map(|b| PyBytes::new(py, &b)))
    }

    /// The transport failed. `sent=False` (the request never went out: connection
    /// refused, connect timeout): a breaker failure, nothing charged. `sent=True` (it
    /// went out and no complete answer came: read timeout, connection broken): a
    /// breaker failure, and the worst case reserved is charged, as the provider may
    /// bill it; returns that cost in micro-dollars (0 when nothing was charged).
    #[pyo3(signature = (reason, sent = false))]
    fn fail(&self, reason: &str, sent: bool) -> Result<u64> {
        let call = self.take()?;
        if sent {
            return Ok(call.unanswered(reason).cost.micros());
        }
        call.fail(reason);
        Ok(0)
    }

    /// Starts governing a streamed (SSE) reply.
    fn stream(&self) -> Result<PyStream> {
        Ok(PyStream {
            guard: Mutex::new(Some(self.take()?.stream())),
        })
    }
}

/// A streamed reply under governance.
#[derive(Debug)]
#[pyclass(name = "StreamCore", module = "iron_cage._core", frozen)]
pub struct PyStream {
    guard: Mutex<Option<StreamGuard>>,
}

#[pymethods]
impl PyStream {
    /// Upstream bytes in; the bytes to hand on now. Raises `PiiBlockedError`
    /// (with its findings) once block mode stops the stream; finish it then.
    fn feed<'py>(&self, py: Python<'py>, chunk: &[u8]) -> Result<Bound<'py, PyBytes>> {
        let mut g = self
            .guard
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?;
        let out = match g.as_mut() {
            Some(guard) => guard.feed(chunk),
            None => Vec::new(),
        };
        // Block mode stopped the stream: the refusal, with its findings.
        if let Some(err) = g.as_ref().and_then(StreamGuard::blocked_error) {
            return Err(err.into());
        }
        Ok(PyBytes::new(py, &out))
    }

    /// Whether block mode stopped the stream.
    #[getter]
    fn blocked(&self) -> bool {
        self.guard
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(StreamGuard::is_blocked))
            .unwrap_or(false)
    }

    /// Ends the stream (`complete=False`: the upstream broke off); returns the
    /// last bytes. Charges the call. Idempotent.
    #[pyo3(signature = (complete = true))]
    fn finish<'py>(&self, py: Python<'py>, complete: bool) -> Result<Bound<'py, PyBytes>> {
        let guard = self
            .guard
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?
            .take();
        let out = match guard {
            Some(g) => g.finish(complete).0,
            None => Vec::new(),
        };
        Ok(PyBytes::new(py, &out))
    }
}
