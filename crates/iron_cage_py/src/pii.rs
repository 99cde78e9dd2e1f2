//! `PiiScanner`, `ScanResult`, `Finding` and the streaming scanner for Python.
//! Offsets are converted from UTF-8 byte offsets to Python `str` indices.

use std::sync::{Arc, Mutex};

use iron_safety::{
    CustomPattern, Entity, Finding, Mode, Scanner, ScannerConfig, Severity, StreamScanner,
};
use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// One detected value: entity, `str` offsets, severity and a keyed HMAC (never the value).
#[derive(Debug, Clone)]
#[pyclass(name = "Finding", module = "iron_cage._core", frozen, get_all)]
pub struct PyFinding {
    entity: String,
    start: usize,
    end: usize,
    severity: &'static str,
    value_hmac: String,
}

impl PyFinding {
    /// A finding as the scanner reported it (byte offsets in the text it scanned).
    pub(crate) fn from_finding(f: &Finding) -> Self {
        PyFinding {
            entity: f.entity.clone(),
            start: f.start,
            end: f.end,
            severity: f.severity.as_str(),
            value_hmac: f.value_hmac.clone(),
        }
    }
}

#[pymethods]
impl PyFinding {
    fn __repr__(&self) -> String {
        format!(
            "Finding(entity={:?}, start={}, end={}, severity={:?})",
            self.entity, self.start, self.end, self.severity
        )
    }
}

/// The result of a scan: `.text` (redacted, original, or empty when blocked), `.findings`, `.blocked`.
#[derive(Debug)]
#[pyclass(name = "ScanResult", module = "iron_cage._core", frozen, get_all)]
pub struct PyScanResult {
    text: String,
    findings: Vec<PyFinding>,
    blocked: bool,
}

#[pymethods]
impl PyScanResult {
    fn __repr__(&self) -> String {
        format!(
            "ScanResult(findings={}, blocked={})",
            self.findings.len(),
            self.blocked
        )
    }
}

/// Byte offsets to `str` (code point) offsets, for sorted findings.
fn to_py_findings(
    text: &str,
    findings: &[Finding],
    base_chars: usize,
    base_bytes: usize,
) -> Vec<PyFinding> {
    let ascii = text.is_ascii();
    let char_at = |byte: usize| {
        if ascii {
            byte
        } else {
            text[..byte].chars().count()
        }
    };
    findings
        .iter()
        .map(|f| PyFinding {
            entity: f.entity.clone(),
            start: base_chars + char_at(f.start - base_bytes),
            end: base_chars + char_at(f.end - base_bytes),
            severity: f.severity.as_str(),
            value_hmac: f.value_hmac.clone(),
        })
        .collect()
}

/// The compiled scanner (the Python `PiiScanner` wraps it).
#[derive(Debug)]
#[pyclass(name = "PiiScannerCore", module = "iron_cage._core", frozen)]
pub struct PyPiiScanner {
    pub(crate) inner: Arc<Scanner>,
}

#[pymethods]
impl PyPiiScanner {
    #[new]
    #[pyo3(signature = (*, mode, hmac_key, entities = None, allow_domains = Vec::new(), allow_values = Vec::new(), custom_patterns = Vec::new()))]
    fn new(
        mode: &str,
        hmac_key: Vec<u8>,
        entities: Option<Vec<String>>,
        allow_domains: Vec<String>,
        allow_values: Vec<String>,
        custom_patterns: Vec<(String, String, String)>,
    ) -> Result<Self> {
        let mode = Mode::parse(mode)?;
        let entities = entities
            .map(|names| {
                names
                    .iter()
                    .map(|n| {
                        Entity::parse(n).ok_or_else(|| {
                            let known: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
                            Error::from(iron_safety::SafetyError::Config(format!(
                                "unknown entity {n:?}; known: {}",
                                known.join(", ")
                            )))
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let custom = custom_patterns
            .into_iter()
            .map(|(name, pattern, severity)| {
                let severity = Severity::parse(&severity).ok_or_else(|| {
                    Error::from(iron_safety::SafetyError::Config(format!(
                        "severity {severity:?} must be low, medium, high or critical"
                    )))
                })?;
                Ok(CustomPattern {
                    name,
                    pattern,
                    severity,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let inner = Scanner::new(ScannerConfig {
            mode,
            entities,
            allow_domains,
            allow_values,
            custom,
            hmac_key,
        })?;
        Ok(PyPiiScanner {
            inner: Arc::new(inner),
        })
    }

    /// Scans `text` and applies the mode (block mode returns `blocked=True` and no text).
    fn scan(&self, py: Python<'_>, text: &str) -> PyScanResult {
        let result = if text.len() > 64 * 1024 {
            py.detach(|| self.inner.scan(text))
        } else {
            self.inner.scan(text)
        };
        PyScanResult {
            findings: to_py_findings(text, &result.findings, 0, 0),
            text: result.text,
            blocked: result.blocked,
        }
    }

    /// A streaming scan.
    fn stream(&self) -> PyPiiStream {
        PyPiiStream {
            inner: Mutex::new(StreamState {
                scanner: StreamScanner::new(Arc::clone(&self.inner)),
                chars: 0,
                bytes: 0,
                reported: 0,
                text: String::new(),
            }),
        }
    }
}

#[derive(Debug)]
struct StreamState {
    scanner: StreamScanner,
    /// Emitted so far, as characters and bytes of the ORIGINAL text.
    chars: usize,
    bytes: usize,
    reported: usize,
    text: String,
}

/// Feed chunks of streamed text; each call returns what is safe to emit now.
#[derive(Debug)]
#[pyclass(name = "PiiStream", module = "iron_cage._core", frozen)]
pub struct PyPiiStream {
    inner: Mutex<StreamState>,
}

impl PyPiiStream {
    fn step(
        &self,
        f: impl FnOnce(&mut StreamScanner) -> String,
        chunk: &str,
    ) -> (String, Vec<PyFinding>, bool) {
        let mut st = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.text.push_str(chunk);
        let out = f(&mut st.scanner);
        let all = st.scanner.findings().to_vec();
        let new = &all[st.reported..];
        // Offsets of new findings are byte offsets into the whole stream; map them
        // through the text we keep of the not-yet-converted part.
        let base_bytes = st.bytes;
        let converted = to_py_findings(&st.text, new, st.chars, base_bytes);
        let blocked = st.scanner.blocked();
        let last_end = new.last().map_or(base_bytes, |f| f.end);
        let done_bytes = last_end - base_bytes;
        st.chars += st.text[..done_bytes].chars().count();
        st.bytes = last_end;
        st.text.drain(..done_bytes);
        st.reported = all.len();
        (out, converted, blocked)
    }
}

#[pymethods]
impl PyPiiStream {
    /// Adds a chunk; returns `(safe_text, new_findings, blocked)`.
    fn feed(&self, chunk: &str) -> (String, Vec<PyFinding>, bool) {
        self.step(|s| s.feed(chunk), chunk)
    }

    /// Ends the stream; returns `(rest, new_findings, blocked)`.
    fn finish(&self) -> (String, Vec<PyFinding>, bool) {
        self.step(StreamScanner::finish, "")
    }
}

/// The built-in `(entity, regex)` patterns, for documentation and benchmarks.
#[pyfunction]
pub fn pii_patterns() -> Vec<(&'static str, &'static str)> {
    iron_safety::builtin_patterns()
}
