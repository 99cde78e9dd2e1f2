//! The one place where domain errors become Python exceptions.
//!
//! The exception classes live in `iron_cage/_exceptions.py` (so they carry typed
//! attributes and a docstring that draws the tree); this module maps each Rust
//! error variant to exactly one of them.

use iron_cost::CostError;
use iron_reliability::ReliabilityError;
use iron_safety::SafetyError;
use iron_secrets::SecretError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

const MODULE: &str = "iron_cage._exceptions";

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, MODULE, name)
}

macro_rules! exception_class {
    ($fn_name:ident, $py_name:literal) => {
        fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            class(py, &CELL, $py_name)
        }
    };
}

exception_class!(config_error, "ConfigError");
exception_class!(budget_exceeded_error, "BudgetExceededError");
exception_class!(reservation_error, "ReservationError");
exception_class!(circuit_open_error, "CircuitOpenError");
exception_class!(secret_error_class, "SecretError");
exception_class!(pii_blocked_error, "PiiBlockedError");
exception_class!(control_panel_error_class, "ControlPanelError");
exception_class!(limit_exceeded_error, "LimitExceededError");
exception_class!(rate_limited_error, "RateLimitedError");

/// Builds an instance of `cls(message, **kwargs)` as a `PyErr`.
fn raise(
    cls: PyResult<&Bound<'_, PyType>>,
    message: String,
    kwargs: Option<Bound<'_, PyDict>>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let instance = cls?.call((message.clone(),), kwargs.as_ref())?;
        Ok(PyErr::from_value(instance))
    };
    // If the exception module itself is broken, still say what happened.
    build().unwrap_or_else(|e| e)
}

/// Converts a cost-engine error into the matching `IronCageError` subclass.
pub fn cost_error(py: Python<'_>, err: CostError) -> PyErr {
    let message = err.to_string();
    let kwargs = PyDict::new(py);
    let filled = (|| -> PyResult<()> {
        match &err {
            CostError::BudgetExceeded {
                ledger,
                limit,
                spent,
                reserved,
                requested,
                remaining,
            } => {
                kwargs.set_item("budget", ledger)?;
                kwargs.set_item("limit_usd", limit.to_usd_f64())?;
                kwargs.set_item("spent_usd", spent.to_usd_f64())?;
                kwargs.set_item("reserved_usd", reserved.to_usd_f64())?;
                kwargs.set_item("requested_usd", requested.to_usd_f64())?;
                kwargs.set_item("remaining_usd", remaining.to_usd_f64())?;
            }
            CostError::UnknownModel {
                model, suggestions, ..
            } => {
                kwargs.set_item("model", model)?;
                kwargs.set_item("suggestions", suggestions.clone())?;
            }
            _ => {}
        }
        Ok(())
    })();
    if let Err(e) = filled {
        return e;
    }
    match err {
        CostError::BudgetExceeded { .. } => raise(budget_exceeded_error(py), message, Some(kwargs)),
        CostError::AlreadySettled { .. } => raise(reservation_error(py), message, None),
        CostError::UnknownModel { .. } => raise(config_error(py), message, Some(kwargs)),
        CostError::InvalidAmount { .. }
        | CostError::TierNotPriced { .. }
        | CostError::InvalidTier(_)
        | CostError::PriceTable { .. }
        | CostError::InvalidUsage(_)
        | CostError::UnknownTokenizer { .. }
        | CostError::InvalidMessages(_)
        | CostError::InvalidThreshold(_) => raise(config_error(py), message, None),
    }
}

/// Converts a reliability error: an open circuit or a bad breaker/retry setting.
pub fn reliability_error(err: ReliabilityError) -> PyErr {
    Python::attach(|py| {
        let message = err.to_string();
        match err {
            ReliabilityError::CircuitOpen {
                breaker,
                state,
                retry_after_s,
            } => {
                let kwargs = PyDict::new(py);
                let filled = kwargs
                    .set_item("breaker", breaker)
                    .and_then(|()| kwargs.set_item("state", state))
                    .and_then(|()| kwargs.set_item("retry_after_s", retry_after_s));
                match filled {
                    Ok(()) => raise(circuit_open_error(py), message, Some(kwargs)),
                    Err(e) => e,
                }
            }
            ReliabilityError::InvalidConfig { .. } => raise(config_error(py), message, None),
        }
    })
}

/// A `ControlPanelError` (the server refused, or could not be reached).
pub fn control_panel_error(py: Python<'_>, message: String) -> PyErr {
    raise(control_panel_error_class(py), message, None)
}

/// Converts a secrets error. Bad arguments and weak keys are `ConfigError`;
/// everything about unlocking and verifying is `SecretError`. No message
/// carries a secret value or key.
pub fn secret_error(err: SecretError) -> PyErr {
    Python::attach(|py| {
        let message = err.to_string();
        match err {
            SecretError::InvalidArgument { .. } | SecretError::InvalidMasterKey(_) => {
                raise(config_error(py), message, None)
            }
            SecretError::WrongMasterKey
            | SecretError::KeyMismatch { .. }
            | SecretError::Tampered { .. }
            | SecretError::Malformed { .. }
            | SecretError::NotFound { .. }
            | SecretError::Storage(_) => raise(secret_error_class(py), message, None),
        }
    })
}

/// Converts a pipeline refusal (library mode raises what router mode answers with a status).
pub fn pipeline_error(err: &iron_runtime::PipelineError) -> PyErr {
    use iron_runtime::PipelineError as E;
    Python::attach(|py| {
        let message = err.to_string();
        match err {
            E::BudgetExceeded(_) | E::Unbounded(_) => {
                raise(budget_exceeded_error(py), message, None)
            }
            E::CircuitOpen { retry_after_s, .. } => {
                let kwargs = PyDict::new(py);
                match kwargs.set_item("retry_after_s", *retry_after_s) {
                    Ok(()) => raise(circuit_open_error(py), message, Some(kwargs)),
                    Err(e) => e,
                }
            }
            E::PiiBlocked(_) => raise(pii_blocked_error(py), message, None),
            E::LimitExceeded(_) => raise(limit_exceeded_error(py), message, None),
            E::RateLimited { retry_after_s, .. } => {
                let kwargs = PyDict::new(py);
                match kwargs.set_item("retry_after_s", *retry_after_s) {
                    Ok(()) => raise(rate_limited_error(py), message, Some(kwargs)),
                    Err(e) => e,
                }
            }
            _ => raise(config_error(py), message, None),
        }
    })
}

/// Converts a safety configuration error (always a `ConfigError`).
pub fn safety_error(err: SafetyError) -> PyErr {
    Python::attach(|py| raise(config_error(py), err.to_string(), None))
}

/// `?`-friendly conversion: `result.py(py)?`.
pub trait IntoPy<T> {
    /// Maps the error through [`cost_error`].
    ///
    /// # Errors
    /// The mapped exception.
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, CostError> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| cost_error(py, e))
    }
}

/// A `TypeError` naming the argument, what it accepts and what it got.
pub fn type_error(what: &str, accepts: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    PyTypeError::new_err(format!("{what} must be {accepts}, not {got}"))
}
