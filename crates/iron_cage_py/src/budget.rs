//! `Budget`, `Reservation` and `ThresholdEvent`: the ledger as Python sees it.

use std::sync::Arc;

use iron_cost::{thresholds_ppm, Ledger, LedgerEvent, Money, SharedReservation};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::convert::money_arg;
use crate::errors::Result;

#[allow(clippy::cast_precision_loss)]
fn ppm_to_fraction(ppm: u64) -> f64 {
    ppm as f64 / 1e6
}

/// A spending limit in USD that concurrent calls can never exceed together.
#[derive(Debug)]
#[pyclass(name = "Budget", module = "iron_cage._core", frozen)]
pub struct PyBudget {
    pub(crate) ledger: Arc<Ledger>,
}

impl PyBudget {
    fn make(
        limit_usd: &Bound<'_, PyAny>,
        thresholds: &[f64],
        name: String,
        parent: Option<&Arc<Ledger>>,
    ) -> Result<Self> {
        let limit = money_arg(limit_usd, "limit_usd")?;
        let ppm = thresholds_ppm(thresholds)?;
        let ledger = match parent {
            Some(p) => Ledger::child(p, name, limit, &ppm),
            None => Ledger::new(name, limit, &ppm),
        };
        Ok(PyBudget { ledger })
    }
}

#[pymethods]
impl PyBudget {
    #[new]
    #[pyo3(signature = (limit_usd, *, thresholds = vec![0.9], name = "budget".to_owned(), parent = None))]
    fn new(
        limit_usd: &Bound<'_, PyAny>,
        thresholds: Vec<f64>,
        name: String,
        parent: Option<PyRef<'_, PyBudget>>,
    ) -> Result<Self> {
        Self::make(
            limit_usd,
            &thresholds,
            name,
            parent.as_ref().map(|p| &p.ledger),
        )
    }

    /// A budget whose reservations also draw from this one.
    #[pyo3(signature = (limit_usd, *, name = "child".to_owned(), thresholds = vec![0.9]))]
    fn child(
        &self,
        limit_usd: &Bound<'_, PyAny>,
        name: String,
        thresholds: Vec<f64>,
    ) -> Result<Self> {
        Self::make(limit_usd, &thresholds, name, Some(&self.ledger))
    }

    /// Holds `amount_usd` for a call in flight, or raises BudgetExceededError.
    fn reserve(&self, amount_usd: &Bound<'_, PyAny>) -> Result<PyReservation> {
        let amount = money_arg(amount_usd, "amount_usd")?;
        let inner = self.ledger.reserve_shared(amount)?;
        Ok(PyReservation { inner })
    }

    /// Changes the limit; spend already committed stays.
    fn set_limit(&self, limit_usd: &Bound<'_, PyAny>) -> Result<()> {
        let limit = money_arg(limit_usd, "limit_usd")?;
        self.ledger.set_limit(limit);
        Ok(())
    }

    /// Calls `callback(event: ThresholdEvent)` each time a threshold is crossed,
    /// on the thread whose commit crossed it. Returns an id for `remove_callback`.
    fn on_threshold(&self, callback: Py<PyAny>) -> u64 {
        self.ledger.subscribe(move |event| {
            let LedgerEvent::ThresholdCrossed {
                ledger,
                threshold_ppm,
                spent,
                limit,
            } = event;
            Python::attach(|py| {
                let ev = PyThresholdEvent {
                    budget: ledger.clone(),
                    threshold: ppm_to_fraction(*threshold_ppm),
                    spent_usd: spent.to_usd_f64(),
                    limit_usd: limit.to_usd_f64(),
                };
                if let Err(err) = callback.call1(py, (ev,)) {
                    err.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        })
    }

    /// Stops a callback registered with `on_threshold`; False if unknown.
    fn remove_callback(&self, callback_id: u64) -> bool {
        self.ledger.unsubscribe(callback_id)
    }

    #[getter]
    fn name(&self) -> &str {
        self.ledger.name()
    }
    #[getter]
    fn limit_usd(&self) -> f64 {
        self.ledger.limit().to_usd_f64()
    }
    #[getter]
    fn spent_usd(&self) -> f64 {
        self.ledger.spent().to_usd_f64()
    }
    #[getter]
    fn reserved_usd(&self) -> f64 {
        self.ledger.snapshot().reserved.to_usd_f64()
    }
    #[getter]
    fn remaining_usd(&self) -> f64 {
        self.ledger.snapshot().remaining.to_usd_f64()
    }
    /// What can be reserved right now, parents' limits included.
    #[getter]
    fn available_usd(&self) -> f64 {
        self.ledger.available().to_usd_f64()
    }
    #[getter]
    fn overrun_usd(&self) -> f64 {
        self.ledger.snapshot().overrun.to_usd_f64()
    }
    #[getter]
    fn fired_thresholds(&self) -> Vec<f64> {
        self.ledger
            .fired_thresholds()
            .into_iter()
            .map(ppm_to_fraction)
            .collect()
    }
    #[getter]
    fn parent(&self) -> Option<PyBudget> {
        self.ledger.parent().map(|p| PyBudget {
            ledger: Arc::clone(p),
        })
    }

    /// `(limit, spent, reserved, remaining, overrun)` in micro-USD, read consistently:
    /// `spent + reserved` is what the limit is checked against.
    fn snapshot_micros(&self) -> (u64, u64, u64, u64, u64) {
        let s = self.ledger.snapshot();
        (
            s.limit.micros(),
            s.spent.micros(),
            s.reserved.micros(),
            s.remaining.micros(),
            s.overrun.micros(),
        )
    }

    fn __repr__(&self) -> String {
        let s = self.ledger.snapshot();
        format!(
            "Budget(name={:?}, limit={}, spent={}, reserved={}, remaining={})",
            self.ledger.name(),
            s.limit,
            s.spent,
            s.reserved,
            s.remaining
        )
    }
}

/// Budget held for one call in flight. Settle it exactly once with `commit` or
/// `release`; used as a context manager it releases if neither happened, and a
/// reservation that is garbage-collected unsettled releases too.
#[derive(Debug)]
#[pyclass(name = "Reservation", module = "iron_cage._core", frozen)]
pub struct PyReservation {
    inner: SharedReservation,
}

#[pymethods]
impl PyReservation {
    /// Records the call's actual cost and frees the rest. An actual cost above the
    /// reservation is recorded in full (and blocks further reservations).
    fn commit(&self, actual_usd: &Bound<'_, PyAny>) -> Result<()> {
        let actual = money_arg(actual_usd, "actual_usd")?;
        self.inner.commit(actual).map_err(Into::into)
    }

    /// Frees the whole reservation.
    fn release(&self) -> Result<()> {
        self.inner.release().map_err(Into::into)
    }

    #[getter]
    fn amount_usd(&self) -> f64 {
        self.inner.amount().to_usd_f64()
    }
    #[getter]
    fn amount_micros(&self) -> u64 {
        self.inner.amount().micros()
    }
    /// "pending", "committed" or "released".
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state()
    }
    #[getter]
    fn budget(&self) -> PyBudget {
        PyBudget {
            ledger: Arc::clone(self.inner.ledger()),
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        if self.inner.state() == "pending" {
            // Cannot fail: only a concurrent settle could, and then there is nothing to free.
            let _ = self.inner.release();
        }
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Reservation(amount={}, state={:?})",
            Money::from_micros(self.inner.amount().micros()),
            self.inner.state()
        )
    }
}

/// A budget threshold was crossed (fires once per threshold).
#[derive(Debug)]
#[pyclass(name = "ThresholdEvent", module = "iron_cage._core", frozen, get_all)]
pub struct PyThresholdEvent {
    /// The budget's name.
    budget: String,
    /// The threshold as a fraction of the limit (0.9 = 90%).
    threshold: f64,
    /// Spend when it fired.
    spent_usd: f64,
    /// The limit when it fired.
    limit_usd: f64,
}

#[pymethods]
impl PyThresholdEvent {
    fn __repr__(&self) -> String {
        format!(
            "ThresholdEvent(budget={:?}, threshold={}, spent_usd={}, limit_usd={})",
            self.budget, self.threshold, self.spent_usd, self.limit_usd
        )
    }
}
