//! Fuzzes the PII scanner: it must never panic on any UTF-8 input, every
//! finding must lie on character boundaries inside the text, redaction must
//! replace exactly the findings, and streaming (split at a fuzzer-chosen point)
//! must equal one-shot scanning, and the findings must equal those of the
//! reference scan that runs the automaton over every byte.
#![no_main]

use std::sync::{Arc, OnceLock};

use iron_safety::{Mode, Scanner, ScannerConfig, StreamScanner};
use libfuzzer_sys::fuzz_target;

fn scanner() -> &'static Arc<Scanner> {
    static S: OnceLock<Arc<Scanner>> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Scanner::new(ScannerConfig { mode: Mode::Redact, hmac_key: b"fuzz".to_vec(), ..ScannerConfig::default() }).expect("valid"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let s = scanner();
    let result = s.scan(text);
    let mut last = 0;
    for f in &result.findings {
        assert!(f.start >= last && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last = f.end;
    }
    assert_eq!(result.text, s.redact(text, &result.findings));
    assert_eq!(result.findings, s.find_by_full_scan(text));
    let mut cut = usize::from(split) * text.len() / 255;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut stream = StreamScanner::new(Arc::clone(s));
    let mut out = stream.feed(&text[..cut]);
    out += &stream.feed(&text[cut..]);
    out += &stream.finish();
    assert_eq!(out, result.text);
});
