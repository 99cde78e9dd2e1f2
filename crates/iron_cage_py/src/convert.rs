//! Argument conversion: USD amounts and JSON-like Python values.

use iron_cost::Money;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

use crate::errors::{config, type_error, Result};

const AMOUNT_TYPES: &str = "an amount of USD as float, int, decimal.Decimal or str";

/// An amount of USD from a float, int, `Decimal` or str; `what` names the argument.
pub fn money_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<Money> {
    let py = obj.py();
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Money::from_usd_f64(f.value(), what).map_err(Into::into);
    }
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(what, AMOUNT_TYPES, obj));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        let v: i128 = i.extract().unwrap_or(i128::MAX);
        return Money::from_usd_i128(v, what).map_err(Into::into);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Money::parse_usd(&s.to_cow()?, what).map_err(Into::into);
    }
    static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    if obj.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        return Money::parse_usd(&obj.str()?.to_cow()?, what).map_err(Into::into);
    }
    Err(type_error(what, AMOUNT_TYPES, obj))
}

/// A JSON-like Python value (dict, list, tuple, str, int, float, bool, None, or
/// a pydantic model with `model_dump()`, like the `openai` SDK's usage objects).
pub fn json_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<Value> {
    to_json(obj, what, 0)
}

fn to_json(obj: &Bound<'_, PyAny>, what: &str, depth: usize) -> Result<Value> {
    const ACCEPTS: &str = "JSON-like data (dict, list, str, int, float, bool, None)";
    if depth > 64 {
        return Err(config(format!("{what} is nested more than 64 levels deep")));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(u) = i.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        if let Ok(s) = i.extract::<i64>() {
            return Ok(Value::Number(s.into()));
        }
        return Err(config(format!(
            "{what} holds an integer too large for 64 bits"
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Number::from_f64(f.value()).map_or(Value::Null, Value::Number));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_cow()?.into_owned(),
                Err(_) => k.str()?.to_cow()?.into_owned(),
            };
            map.insert(key, to_json(&v, what, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| to_json(&v, what, depth + 1))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| to_json(&v, what, depth + 1))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array);
    }
    if obj.hasattr("model_dump")? {
        return to_json(&obj.call_method0("model_dump")?, what, depth + 1);
    }
    Err(type_error(what, ACCEPTS, obj))
}
