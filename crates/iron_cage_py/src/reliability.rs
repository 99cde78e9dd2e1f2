//! The breaker state machine, retry delays and fallback counters for Python.
//! The Python layer (`iron_cage/_reliability.py`) runs the protected calls;
//! these objects decide and count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use iron_reliability::{
    parse_retry_after as parse, BreakerConfig, CircuitBreaker, Clock, FallbackStats, Jitter,
    Permit, RetryPolicy, TripRule,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{seconds, Result};

fn duration(value: f64, what: &'static str) -> Result<Duration> {
    seconds(value, what, true)
}

/// A clock that moves only when told to, for tests of time-dependent behaviour.
#[derive(Debug)]
#[pyclass(name = "ManualClock", module = "iron_cage._core", frozen)]
pub struct PyManualClock {
    ns: Arc<AtomicU64>,
}

#[pymethods]
impl PyManualClock {
    #[new]
    fn new() -> Self {
        PyManualClock {
            ns: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward by `seconds`.
    fn advance(&self, seconds: f64) -> Result<()> {
        let d = duration(seconds, "seconds")?;
        self.ns.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::AcqRel,
        );
        Ok(())
    }

    /// Seconds since the clock was made.
    #[getter]
    fn now_s(&self) -> f64 {
        Duration::from_nanos(self.ns.load(Ordering::Acquire)).as_secs_f64()
    }
}

/// The breaker state machine: `admit()` returns a permit or raises CircuitOpenError.
#[derive(Debug)]
#[pyclass(name = "BreakerCore", module = "iron_cage._core", frozen)]
pub struct PyBreakerCore {
    inner: Arc<CircuitBreaker>,
}

#[pymethods]
impl PyBreakerCore {
    #[new]
    #[pyo3(signature = (name, *, failure_threshold = 5, cooldown_s = 60.0, half_open_max_calls = 1, success_threshold = 1,
                        failure_rate = None, window = 20, min_calls = 10, cooldown_multiplier = 1.0,
                        max_cooldown_s = None, clock = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        failure_threshold: u32,
        cooldown_s: f64,
        half_open_max_calls: u32,
        success_threshold: u32,
        failure_rate: Option<f64>,
        window: u32,
        min_calls: u32,
        cooldown_multiplier: f64,
        max_cooldown_s: Option<f64>,
        clock: Option<PyRef<'_, PyManualClock>>,
    ) -> Result<Self> {
        let cooldown = duration(cooldown_s, "cooldown_s")?;
        let max_cooldown = match max_cooldown_s {
            Some(s) => duration(s, "max_cooldown_s")?,
            None => cooldown.max(Duration::from_secs(600)),
        };
        let trip = match failure_rate {
            Some(ratio) => TripRule::Rate {
                ratio,
                window,
                min_calls,
            },
            None => TripRule::Consecutive(failure_threshold),
        };
        let config = BreakerConfig {
            trip,
            cooldown,
            cooldown_multiplier,
            max_cooldown,
            half_open_max_calls,
            success_threshold,
        };
        let clock = clock.map_or_else(Clock::monotonic, |c| Clock::Manual(Arc::clone(&c.ns)));
        let inner = CircuitBreaker::new(name, config, clock)?;
        Ok(PyBreakerCore { inner })
    }

    /// A permit for one call, or CircuitOpenError. `cost_estimate_usd` counts as
    /// saved when the call is rejected.
    #[pyo3(signature = (cost_estimate_usd = 0.0))]
    fn admit(&self, cost_estimate_usd: f64) -> Result<PyPermit> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = if cost_estimate_usd.is_finite() && cost_estimate_usd > 0.0 {
            (cost_estimate_usd * 1e6).round() as u64
        } else {
            0
        };
        let permit = self.inner.admit(micros)?;
        Ok(PyPermit { inner: permit })
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// "closed", "open" or "half_open".
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state().as_str()
    }

    /// Counters: calls, successes, failures, rejected, cost_saved_usd, trips, seconds in each state.
    fn metrics<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyDict>> {
        let m = self.inner.metrics();
        let d = PyDict::new(py);
        d.set_item("name", self.inner.name())?;
        d.set_item("state", self.inner.state().as_str())?;
        d.set_item("calls", m.calls)?;
        d.set_item("successes", m.successes)?;
        d.set_item("failures", m.failures)?;
        d.set_item("rejected", m.rejected)?;
        d.set_item("trips", m.trips)?;
        d.set_item(
            "cost_saved_usd",
            iron_cost::Money::from_micros(m.cost_saved_micros).to_usd_f64(),
        )?;
        let secs = PyDict::new(py);
        for (i, state) in ["closed", "open", "half_open"].into_iter().enumerate() {
            secs.set_item(state, Duration::from_nanos(m.time_in_ns[i]).as_secs_f64())?;
        }
        d.set_item("seconds_in_state", secs)?;
        Ok(d)
    }

    /// Opens until close() or reset().
    fn force_open(&self) {
        self.inner.force_open();
    }

    /// Closes now.
    fn close(&self) {
        self.inner.close();
    }

    /// Closes and forgets the trip history.
    fn reset(&self) {
        self.inner.reset();
    }

    /// Calls `callback(name, from_state, to_state)` on every state change.
    fn on_state_change(&self, callback: Py<PyAny>) {
        self.inner.subscribe(move |c| {
            Python::attach(|py| {
                if let Err(err) =
                    callback.call1(py, (c.breaker.as_str(), c.from.as_str(), c.to.as_str()))
                {
                    err.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        });
    }
}

/// Permission for one call; report exactly one outcome (later reports are ignored).
#[derive(Debug)]
#[pyclass(name = "BreakerPermit", module = "iron_cage._core", frozen)]
pub struct PyPermit {
    inner: Permit,
}

#[pymethods]
impl PyPermit {
    /// The call succeeded (or the service answered). False if already reported.
    fn success(&self) -> bool {
        self.inner.success()
    }

    /// The call failed; `retry_after_s` is the service's Retry-After, if any.
    #[pyo3(signature = (retry_after_s = None))]
    fn failure(&self, retry_after_s: Option<f64>) -> Result<bool> {
        let retry_after = retry_after_s
            .map(|s| duration(s, "retry_after_s"))
            .transpose()?;
        Ok(self.inner.failure(retry_after))
    }

    /// The call does not count (cancelled, or refused by our own policy).
    fn release(&self) -> bool {
        self.inner.release()
    }

    #[getter]
    fn is_probe(&self) -> bool {
        self.inner.is_probe()
    }
}

/// Backoff delays with full jitter.
#[derive(Debug)]
#[pyclass(name = "RetryPolicy", module = "iron_cage._core", frozen)]
pub struct PyRetryPolicy {
    policy: RetryPolicy,
    jitter: Mutex<Jitter>,
}

#[pymethods]
impl PyRetryPolicy {
    #[new]
    #[pyo3(signature = (*, max_attempts = 3, base_delay_s = 0.5, max_delay_s = 30.0, multiplier = 2.0, max_elapsed_s = None, seed = None))]
    fn new(
        max_attempts: u32,
        base_delay_s: f64,
        max_delay_s: f64,
        multiplier: f64,
        max_elapsed_s: Option<f64>,
        seed: Option<u64>,
    ) -> Result<Self> {
        let policy = RetryPolicy {
            max_attempts,
            base_delay: duration(base_delay_s, "base_delay_s")?,
            max_delay: duration(max_delay_s, "max_delay_s")?,
            multiplier,
            max_elapsed: max_elapsed_s
                .map(|s| duration(s, "max_elapsed_s"))
                .transpose()?,
        };
        policy.validate()?;
        let seed = seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(1, |d| {
                    u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(1)
                })
        });
        Ok(PyRetryPolicy {
            policy,
            jitter: Mutex::new(Jitter::new(seed)),
        })
    }

    /// Seconds to wait after failed attempt `attempt` (1-based).
    #[pyo3(signature = (attempt, retry_after_s = None))]
    fn delay(&self, attempt: u32, retry_after_s: Option<f64>) -> Result<f64> {
        let retry_after = retry_after_s
            .map(|s| duration(s, "retry_after_s"))
            .transpose()?;
        let u = self
            .jitter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next_unit();
        Ok(self.policy.delay(attempt, retry_after, u).as_secs_f64())
    }

    /// Whether another attempt may follow failed attempt `attempt`.
    fn should_retry(&self, attempt: u32, elapsed_s: f64, delay_s: f64) -> Result<bool> {
        Ok(self.policy.should_retry(
            attempt,
            duration(elapsed_s, "elapsed_s")?,
            duration(delay_s, "delay_s")?,
        ))
    }

    #[getter]
    fn max_attempts(&self) -> u32 {
        self.policy.max_attempts
    }
}

/// Lock-free counters for a fallback chain.
#[derive(Debug)]
#[pyclass(name = "FallbackStats", module = "iron_cage._core", frozen)]
pub struct PyFallbackStats {
    inner: FallbackStats,
}

#[pymethods]
impl PyFallbackStats {
    #[new]
    fn new(names: Vec<String>) -> Self {
        PyFallbackStats {
            inner: FallbackStats::new(names),
        }
    }
    fn attempt(&self, tier: usize) {
        self.inner.attempt(tier);
    }
    fn success(&self, tier: usize) {
        self.inner.success(tier);
    }
    fn exhausted(&self) {
        self.inner.exhausted();
    }
    /// (name, attempts, successes) per tier, primary first.
    fn tiers(&self) -> Vec<(String, u64, u64)> {
        self.inner
            .tiers()
            .into_iter()
            .map(|t| (t.name, t.attempts, t.successes))
            .collect()
    }
    #[getter]
    fn exhausted_count(&self) -> u64 {
        self.inner.exhausted_count()
    }
    /// Share of served calls served by a tier after the primary.
    #[getter]
    fn fallback_share(&self) -> f64 {
        self.inner.fallback_share()
    }
}

/// Seconds to wait from a `Retry-After` header value (seconds or HTTP date), or None.
#[pyfunction]
pub fn parse_retry_after(value: &str) -> Option<f64> {
    parse(value, SystemTime::now()).map(|d| d.as_secs_f64())
}

/// Whether an HTTP status counts against a breaker (408, 429 and 5xx): the
/// one classification library mode, router mode and `CircuitBreaker` share.
#[pyfunction]
pub fn status_is_failure(status: u16) -> bool {
    iron_reliability::classify_status(status) == iron_reliability::StatusClass::Failure
}
