//! `cost_of`, `count_tokens` and `PriceTable` for Python.

use std::path::PathBuf;
use std::sync::Arc;

use iron_cost::{active_prices, set_active_prices, tokenizer_for, PriceTable, Rates, Tier};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::{json_arg, money_arg};
use crate::errors::{config, type_error, Result};

/// A price table: the embedded one, or it with overrides on top.
#[derive(Debug)]
#[pyclass(name = "PriceTable", module = "iron_cage._core", frozen)]
pub struct PyPriceTable {
    table: Arc<PriceTable>,
}

fn rates_dict<'py>(py: Python<'py>, r: &Rates) -> Result<Bound<'py, PyDict>> {
    // Rates are micro-USD per 1M tokens, i.e. numerically USD per 1M tokens * 1e6.
    #[allow(clippy::cast_precision_loss)]
    let usd = |v: u64| v as f64 / 1e6;
    let d = PyDict::new(py);
    d.set_item("input", usd(r.input))?;
    d.set_item("output", usd(r.output))?;
    d.set_item("cached_input", usd(r.cached_input))?;
    d.set_item("cache_write_5m", usd(r.cache_write_5m))?;
    d.set_item("cache_write_1h", usd(r.cache_write_1h))?;
    d.set_item("audio_input", usd(r.audio_input))?;
    d.set_item("audio_output", usd(r.audio_output))?;
    Ok(d)
}

#[pymethods]
impl PyPriceTable {
    /// The table compiled into this build.
    #[staticmethod]
    fn embedded() -> Self {
        PyPriceTable {
            table: Arc::new(PriceTable::embedded().clone()),
        }
    }

    /// A `.json` or `.toml` file of the embedded table's shape; by default merged
    /// on top of the embedded table.
    #[staticmethod]
    #[pyo3(signature = (path, *, merge_embedded = true))]
    fn from_file(path: PathBuf, merge_embedded: bool) -> Result<Self> {
        let t = PriceTable::from_path(&path)?;
        Ok(Self::finish(t, merge_embedded))
    }

    /// A dict of the file's shape (`{"models": {name: {"input": .., "output": ..}}, "default": ..}`).
    #[staticmethod]
    #[pyo3(signature = (table, *, merge_embedded = true))]
    fn from_dict(table: &Bound<'_, PyAny>, merge_embedded: bool) -> Result<Self> {
        let json = json_arg(table, "table")?;
        let t = PriceTable::from_json_str(&json.to_string(), "<dict>")?;
        Ok(Self::finish(t, merge_embedded))
    }

    /// This table, pricing unknown models at `input`/`output` USD per 1M tokens.
    #[pyo3(signature = (input, output, *, cached_input = None))]
    fn with_default(
        &self,
        input: &Bound<'_, PyAny>,
        output: &Bound<'_, PyAny>,
        cached_input: Option<&Bound<'_, PyAny>>,
    ) -> Result<Self> {
        let mut spec = serde_json::json!({
            "input": money_arg(input, "input")?.to_usd_f64(),
            "output": money_arg(output, "output")?.to_usd_f64(),
        });
        if let Some(c) = cached_input {
            spec["cached_input"] = money_arg(c, "cached_input")?.to_usd_f64().into();
        }
        let overrides = PriceTable::from_json_str(
            &serde_json::json!({"version": "default", "default": spec}).to_string(),
            "<default>",
        )?;
        Ok(PyPriceTable {
            table: Arc::new(self.table.merged(&overrides)),
        })
    }

    #[getter]
    fn version(&self) -> &str {
        self.table.version()
    }

    /// Model names in the table, sorted.
    fn models(&self) -> Vec<String> {
        self.table
            .model_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// What the table knows about `model` after name resolution, prices in USD per 1M tokens.
    fn price<'py>(&self, py: Python<'py>, model: &str) -> Result<Bound<'py, PyDict>> {
        let r = self.table.lookup(model)?;
        let d = PyDict::new(py);
        d.set_item("model", r.name)?;
        d.set_item("provider", r.price.provider.as_str())?;
        d.set_item("standard", rates_dict(py, &r.price.standard)?)?;
        d.set_item("batch", rates_dict(py, &r.price.batch)?)?;
        d.set_item(
            "priority",
            r.price
                .priority
                .as_ref()
                .map(|p| rates_dict(py, p))
                .transpose()?,
        )?;
        let long = match &r.price.long_context {
            Some((threshold, rates)) => {
                let l = rates_dict(py, rates)?;
                l.set_item("threshold", *threshold)?;
                Some(l)
            }
            None => None,
        };
        d.set_item("long_context", long)?;
        d.set_item("max_output_tokens", r.price.max_output_tokens)?;
        d.set_item("context_window", r.price.context_window)?;
        Ok(d)
    }

    /// This table with a policy for models it does not know: `"refuse"` (the
    /// default) or `"price_as:<model>"` (price them as that known model).
    fn with_unknown_model(&self, policy: &str) -> Result<Self> {
        Ok(PyPriceTable {
            table: Arc::new(self.table.with_unknown_model(policy)?),
        })
    }

    /// The cost in USD of a provider usage object.
    #[pyo3(signature = (model, usage, *, tier = "standard"))]
    fn cost_of(&self, model: &str, usage: &Bound<'_, PyAny>, tier: &str) -> Result<f64> {
        cost_with(&self.table, model, usage, tier)
    }

    fn __repr__(&self) -> String {
        format!(
            "PriceTable(version={:?}, models={})",
            self.table.version(),
            self.table.model_names().len()
        )
    }
}

impl PyPriceTable {
    fn finish(t: PriceTable, merge_embedded: bool) -> Self {
        let table = if merge_embedded {
            PriceTable::embedded().merged(&t)
        } else {
            t
        };
        PyPriceTable {
            table: Arc::new(table),
        }
    }
}

fn cost_with(table: &PriceTable, model: &str, usage: &Bound<'_, PyAny>, tier: &str) -> Result<f64> {
    let usage = json_arg(usage, "usage")?;
    let tier = Tier::parse(tier)?;
    table
        .cost_of_json(model, &usage, tier)
        .map_err(Into::into)
        .map(iron_cost::Money::to_usd_f64)
}

/// The cost in USD of one call, from the provider's `usage` object (dict or SDK object).
#[pyfunction]
#[pyo3(signature = (model, usage, *, tier = "standard", prices = None))]
pub fn cost_of(
    model: &str,
    usage: &Bound<'_, PyAny>,
    tier: &str,
    prices: Option<PyRef<'_, PyPriceTable>>,
) -> Result<f64> {
    match prices {
        Some(p) => cost_with(&p.table, model, usage, tier),
        None => cost_with(&*active_prices()?, model, usage, tier),
    }
}

/// Tokens in a string, or in a chat `messages` list including per-message overhead.
#[pyfunction]
pub fn count_tokens(
    py: Python<'_>,
    model: &str,
    text_or_messages: &Bound<'_, PyAny>,
) -> Result<usize> {
    let table = active_prices()?;
    let tokenizer = match table.lookup(model).ok().and_then(|r| r.price.tokenizer) {
        Some(t) => t,
        None => tokenizer_for(model)?,
    };
    if let Ok(s) = text_or_messages.cast::<PyString>() {
        let text = s.to_cow()?;
        // Long texts release the GIL; short ones are cheaper without the switch.
        return Ok(if text.len() > 16 * 1024 {
            let owned = text.into_owned();
            py.detach(move || tokenizer.count_text(&owned))
        } else {
            tokenizer.count_text(&text)
        });
    }
    if text_or_messages.is_instance_of::<PyList>()
        || text_or_messages.is_instance_of::<pyo3::types::PyTuple>()
    {
        let messages = json_arg(text_or_messages, "messages")?;
        return tokenizer.count_messages(&messages).map_err(Into::into);
    }
    Err(type_error(
        "text_or_messages",
        "a str or a list of chat message dicts",
        text_or_messages,
    ))
}

/// Whether `count_tokens` is exact for `model` (False: a documented estimate, e.g. Claude).
#[pyfunction]
pub fn token_count_is_exact(model: &str) -> Result<bool> {
    tokenizer_for(model)
        .map_err(Into::into)
        .map(iron_cost::Tokenizer::is_exact)
}

/// Makes `table` the process-wide price table (`None`: embedded + `IRON_CAGE_PRICES`).
#[pyfunction]
#[pyo3(signature = (table))]
pub fn use_prices(table: Option<PyRef<'_, PyPriceTable>>) {
    set_active_prices(table.map(|t| Arc::clone(&t.table)));
}

/// The process-wide price table.
#[pyfunction]
pub fn active_price_table() -> Result<PyPriceTable> {
    Ok(PyPriceTable {
        table: active_prices()?,
    })
}

/// A LiteLLM `model_prices_and_context_window.json` (its text) converted to
/// iron-cage's price-table JSON: what `iron-cage prices import` writes.
#[pyfunction]
#[pyo3(signature = (text, version = "litellm"))]
pub fn convert_litellm_prices(text: &str, version: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| config(format!("the price map is not valid JSON: {e}")))?;
    if !iron_cost::litellm::is_litellm_map(&value) {
        return Err(config(
            "this is not a LiteLLM price map (model_prices_and_context_window.json): its entries have no litellm_provider",
        ));
    }
    let table = iron_cost::litellm::to_table(&value, version);
    // Checked as the table loader will read it.
    PriceTable::from_json_str(&table.to_string(), "<converted>")?;
    Ok(serde_json::to_string_pretty(&table).unwrap_or_default())
}
