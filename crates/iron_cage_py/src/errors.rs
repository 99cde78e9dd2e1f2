//! The one place where errors become Python exceptions.
//!
//! Every fallible function of the binding returns [`Result`]. Each domain
//! error converts into [`Error`] with `?` (one `From` impl each), and
//! [`Error`] converts into exactly one class of `iron_cage/_exceptions.py`
//! (one `From<Error> for PyErr`), carrying the error's data as attributes:
//! amounts for budget refusals, findings for PII blocks, retry hints, and for
//! a refused call the HTTP `status` and `code` router mode answers with.
//! The classes live in Python so they carry typed attributes and a docstring
//! that draws the tree.

use std::time::Duration;

use iron_cost::CostError;
use iron_reliability::ReliabilityError;
use iron_runtime::{LeaseError, PipelineError, Refusal};
use iron_safety::SafetyError;
use iron_secrets::SecretError;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyType};

use crate::pii::PyFinding;

const MODULE: &str = "iron_cage._exceptions";

/// Any error the binding raises.
#[derive(Debug)]
pub enum Error {
    /// Amounts, prices, usage, token counting, reservations.
    Cost(CostError),
    /// A refused or failed governed call.
    Pipeline(PipelineError),
    /// An open breaker, or a bad breaker or retry setting.
    Reliability(ReliabilityError),
    /// The vault or the cipher.
    Secret(SecretError),
    /// A bad PII setting.
    Safety(SafetyError),
    /// The Control Panel refused or could not be reached.
    Lease(LeaseError),
    /// A bad argument or setting (`ConfigError`): what was wrong and what is accepted.
    Config(String),
    /// The operating system refused (a port, a file): `OSError`.
    Os(String),
    /// Already a Python exception.
    Py(PyErr),
}

/// The binding's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! from_domain {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(e)
            }
        })*
    };
}

from_domain!(
    Cost(CostError),
    Pipeline(PipelineError),
    Reliability(ReliabilityError),
    Secret(SecretError),
    Safety(SafetyError),
    Lease(LeaseError),
    Py(PyErr),
);

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        Python::attach(|py| e.into_py(py))
    }
}

/// A positive (or, with `zero_ok`, non-negative) finite number of seconds;
/// `ConfigError` naming `what` otherwise.
pub fn seconds(value: f64, what: &str, zero_ok: bool) -> Result<Duration> {
    if value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) {
        Ok(Duration::from_secs_f64(value))
    } else {
        let kind = if zero_ok {
            "zero or more"
        } else {
            "more than zero"
        };
        Err(Error::Config(format!(
            "{what} must be a finite number of seconds, {kind}; got {value}"
        )))
    }
}

/// A `TypeError` naming the argument, what it accepts and what it got.
pub fn type_error(what: &str, accepts: &str, got: &Bound<'_, PyAny>) -> Error {
    let got = got
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    Error::Py(PyTypeError::new_err(format!(
        "{what} must be {accepts}, not {got}"
    )))
}

/// An `OSError` (a port or a file the operating system refused).
pub fn os_error(message: impl Into<String>) -> Error {
    Error::Os(message.into())
}

/// A `ConfigError` saying what was wrong and what is accepted.
pub fn config(message: impl Into<String>) -> Error {
    Error::Config(message.into())
}

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    static MODULE_CELL: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE_CELL.get_or_try_init(py, || py.import(MODULE).map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// The exception of class `name`, built as `cls(message, **kwargs)`, then
/// with `attrs` set on it.
fn build(
    py: Python<'_>,
    name: &str,
    message: String,
    kwargs: Option<&Bound<'_, PyDict>>,
    attrs: &[(&str, Bound<'_, PyAny>)],
) -> PyResult<PyErr> {
    let instance = class(py, name)?.call((message,), kwargs)?;
    for (key, value) in attrs {
        instance.setattr(*key, value)?;
    }
    Ok(PyErr::from_value(instance))
}

fn refusal_kwargs<'py>(py: Python<'py>, r: &Refusal) -> PyResult<Bound<'py, PyDict>> {
    let kw = PyDict::new(py);
    kw.set_item("budget", &r.budget)?;
    kw.set_item("limit_usd", r.limit.to_usd_f64())?;
    kw.set_item("spent_usd", r.spent.to_usd_f64())?;
    kw.set_item("reserved_usd", r.reserved.to_usd_f64())?;
    kw.set_item("requested_usd", r.requested.to_usd_f64())?;
    kw.set_item("remaining_usd", r.remaining.to_usd_f64())?;
    Ok(kw)
}

impl Error {
    fn into_py(self, py: Python<'_>) -> PyErr {
        // If the exception module itself is broken, still say what happened.
        self.try_into_py(py).unwrap_or_else(|e| e)
    }

    fn try_into_py(self, py: Python<'_>) -> PyResult<PyErr> {
        match self {
            Error::Py(e) => Ok(e),
            Error::Config(message) => build(py, "ConfigError", message, None, &[]),
            Error::Os(message) => Ok(PyOSError::new_err(message)),
            Error::Cost(e) => cost(py, e),
            Error::Pipeline(e) => pipeline(py, e),
            Error::Reliability(e) => {
                let message = e.to_string();
                match e {
                    ReliabilityError::CircuitOpen {
                        breaker,
                        state,
                        retry_after_s,
                    } => {
                        let kw = PyDict::new(py);
                        kw.set_item("breaker", breaker)?;
                        kw.set_item("state", state)?;
                        kw.set_item("retry_after_s", retry_after_s)?;
                        build(py, "CircuitOpenError", message, Some(&kw), &[])
                    }
                    ReliabilityError::InvalidConfig { .. } => {
                        build(py, "ConfigError", message, None, &[])
                    }
                }
            }
            // Bad arguments and weak keys are configuration; unlocking and
            // verifying are `SecretError`. No message carries a secret or key.
            Error::Secret(e) => {
                let name = match e {
                    SecretError::InvalidArgument { .. } | SecretError::InvalidMasterKey(_) => {
                        "ConfigError"
                    }
                    SecretError::WrongMasterKey
                    | SecretError::KeyMismatch { .. }
                    | SecretError::Tampered { .. }
                    | SecretError::Malformed { .. }
                    | SecretError::NotFound { .. }
                    | SecretError::Storage(_) => "SecretError",
                };
                build(py, name, e.to_string(), None, &[])
            }
            Error::Safety(e) => build(py, "ConfigError", e.to_string(), None, &[]),
            Error::Lease(e) => {
                let kw = PyDict::new(py);
                match &e {
                    LeaseError::Refused { status, code, .. } => {
                        kw.set_item("status", *status)?;
                        kw.set_item("code", code)?;
                    }
                    LeaseError::Stopped { .. } => {
                        kw.set_item("status", 409)?;
                        kw.set_item("code", "agent_stopped")?;
                    }
                    _ => {}
                }
                build(py, "ControlPanelError", e.to_string(), Some(&kw), &[])
            }
        }
    }
}

fn cost(py: Python<'_>, err: CostError) -> PyResult<PyErr> {
    let message = err.to_string();
    let kw = PyDict::new(py);
    let name = match &err {
        CostError::BudgetExceeded {
            ledger,
            limit,
            spent,
            reserved,
            requested,
            remaining,
        } => {
            kw.set_item("budget", ledger)?;
            kw.set_item("limit_usd", limit.to_usd_f64())?;
            kw.set_item("spent_usd", spent.to_usd_f64())?;
            kw.set_item("reserved_usd", reserved.to_usd_f64())?;
            kw.set_item("requested_usd", requested.to_usd_f64())?;
            kw.set_item("remaining_usd", remaining.to_usd_f64())?;
            "BudgetExceededError"
        }
        CostError::AlreadySettled { .. } => "ReservationError",
        CostError::UnknownModel {
            model, suggestions, ..
        } => {
            kw.set_item("model", model)?;
            kw.set_item("suggestions", suggestions.clone())?;
            "ConfigError"
        }
        CostError::InvalidAmount { .. }
        | CostError::TierNotPriced { .. }
        | CostError::InvalidTier(_)
        | CostError::PriceTable { .. }
        | CostError::InvalidUsage(_)
        | CostError::UnknownTokenizer { .. }
        | CostError::InvalidMessages(_)
        | CostError::InvalidThreshold(_) => "ConfigError",
    };
    let kw = (!kw.is_empty()).then_some(kw);
    build(py, name, message, kw.as_ref(), &[])
}

/// A refused call: library mode raises what router mode answers with a status.
fn pipeline(py: Python<'_>, err: PipelineError) -> PyResult<PyErr> {
    let message = err.to_string();
    let attrs = [
        ("status", err.status().into_pyobject(py)?.into_any()),
        ("code", err.code().into_pyobject(py)?.into_any()),
    ];
    match &err {
        PipelineError::BudgetExceeded { refusal, .. }
        | PipelineError::Unbounded { refusal, .. } => {
            let kw = refusal_kwargs(py, refusal)?;
            build(py, "BudgetExceededError", message, Some(&kw), &attrs)
        }
        PipelineError::LimitExceeded { refusal, .. } => {
            let kw = refusal_kwargs(py, refusal)?;
            build(py, "LimitExceededError", message, Some(&kw), &attrs)
        }
        PipelineError::CircuitOpen {
            breaker,
            state,
            retry_after_s,
            ..
        } => {
            let kw = PyDict::new(py);
            kw.set_item("breaker", breaker)?;
            kw.set_item("state", *state)?;
            kw.set_item("retry_after_s", *retry_after_s)?;
            build(py, "CircuitOpenError", message, Some(&kw), &attrs)
        }
        PipelineError::PiiBlocked { findings, .. } => {
            let kw = PyDict::new(py);
            let list = PyList::empty(py);
            for f in findings {
                list.append(Py::new(py, PyFinding::from_finding(f))?)?;
            }
            kw.set_item("findings", list)?;
            build(py, "PiiBlockedError", message, Some(&kw), &attrs)
        }
        PipelineError::ModelNotAllowed(_) => build(py, "PolicyError", message, None, &attrs),
        PipelineError::RateLimited { retry_after_s, .. } => {
            let kw = PyDict::new(py);
            kw.set_item("retry_after_s", *retry_after_s)?;
            build(py, "RateLimitedError", message, Some(&kw), &attrs)
        }
        PipelineError::Upstream(_) => Ok(PyOSError::new_err(message)),
        PipelineError::BadRequest(_)
        | PipelineError::UnknownModel(_)
        | PipelineError::Unauthorized(_)
        | PipelineError::TooLarge(_)
        | PipelineError::NotFound(_) => build(py, "ConfigError", message, None, &attrs),
    }
}
