//! `iron_cage._core`: the one Python extension of iron-cage. Thin wrappers over
//! the domain crates; argument conversion in `convert`, error mapping in `errors`.

mod budget;
mod convert;
mod cost;
mod errors;
mod governor;
mod lease;
mod pii;
mod reliability;
mod router;
mod secrets;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "PRICE_TABLE_VERSION",
        iron_cost::PriceTable::embedded().version(),
    )?;
    m.add_class::<budget::PyBudget>()?;
    m.add_class::<budget::PyReservation>()?;
    m.add_class::<budget::PyThresholdEvent>()?;
    m.add_class::<cost::PyPriceTable>()?;
    m.add_class::<reliability::PyBreakerCore>()?;
    m.add_class::<reliability::PyPermit>()?;
    m.add_class::<reliability::PyManualClock>()?;
    m.add_class::<reliability::PyRetryPolicy>()?;
    m.add_class::<reliability::PyFallbackStats>()?;
    m.add_function(wrap_pyfunction!(reliability::parse_retry_after, m)?)?;
    m.add_function(wrap_pyfunction!(reliability::status_is_failure, m)?)?;
    m.add_class::<pii::PyPiiScanner>()?;
    m.add_class::<pii::PyPiiStream>()?;
    m.add_class::<pii::PyScanResult>()?;
    m.add_class::<pii::PyFinding>()?;
    m.add_function(wrap_pyfunction!(pii::pii_patterns, m)?)?;
    m.add_class::<governor::PyGovernor>()?;
    m.add_class::<governor::PyCall>()?;
    m.add_class::<governor::PyStream>()?;
    m.add_class::<router::PyRouter>()?;
    m.add_class::<lease::PyLeaseClient>()?;
    m.add_class::<lease::PyKeyProxy>()?;
    m.add_class::<router::PyFakeProvider>()?;
    m.add_function(wrap_pyfunction!(router::render_fake_reply, m)?)?;
    m.add_class::<secrets::PySecretCipher>()?;
    m.add_class::<secrets::PySecretVault>()?;
    m.add_function(wrap_pyfunction!(secrets::generate_master_key, m)?)?;
    m.add_function(wrap_pyfunction!(secrets::mask_secret, m)?)?;
    m.add_function(wrap_pyfunction!(cost::cost_of, m)?)?;
    m.add_function(wrap_pyfunction!(cost::count_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(cost::token_count_is_exact, m)?)?;
    m.add_function(wrap_pyfunction!(cost::use_prices, m)?)?;
    m.add_function(wrap_pyfunction!(cost::active_price_table, m)?)?;
    m.add_function(wrap_pyfunction!(cost::convert_litellm_prices, m)?)?;
    Ok(())
}
