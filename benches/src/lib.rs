//! Inputs shared by the benchmarks.

use std::sync::Arc;

use iron_cost::Money;
use iron_reliability::{BreakerConfig, TripRule};
use iron_runtime::pipeline::{Pipeline, PipelineConfig};
use iron_safety::{Scanner, ScannerConfig};

/// The chat completion the library-mode bench sends (136 bytes).
pub const GOVERNED_REQUEST: &[u8] = br#"{"messages": [{"role": "user", "content": "Summarise the quarterly report in one sentence."}], "model": "gpt-4o-mini", "max_tokens": 64}"#;

/// FakeProvider's reply to [`GOVERNED_REQUEST`] (668 bytes).
pub const GOVERNED_REPLY: &[u8] = br#"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Reply 1 from gpt-4o-mini: you wrote 7 words, starting with \"Summarise the quarterly report in one sentence.\". Here is a short, deterministic answer.","refusal":null,"role":"assistant"}}],"created":1795331785,"id":"chatcmpl-9e3779b97f4a7c15","model":"gpt-4o-mini","object":"chat.completion","system_fingerprint":"fp_fake","usage":{"completion_tokens":38,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0},"prompt_tokens":17,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"total_tokens":55}}"#;

/// The default PII scanner (redact mode) with a fixed key.
///
/// # Panics
/// Never: the default configuration is valid.
#[must_use]
pub fn pii_scanner() -> Arc<Scanner> {
    Arc::new(
        Scanner::new(ScannerConfig {
            hmac_key: vec![7; 32],
            ..ScannerConfig::default()
        })
        .expect("scanner"),
    )
}

/// A pipeline as a governed runtime builds it: a $1M budget, the given scanner,
/// and a breaker (5 consecutive failures) when `breaker`.
///
/// # Panics
/// Never: the configuration is valid.
#[must_use]
pub fn governed_pipeline(scanner: Option<Arc<Scanner>>, breaker: bool) -> Arc<Pipeline> {
    Pipeline::new(PipelineConfig {
        budget: Some(Money::from_usd_f64(1e6, "budget").expect("a valid budget")),
        scanner,
        breaker: breaker.then(|| BreakerConfig {
            trip: TripRule::Consecutive(5),
            ..BreakerConfig::default()
        }),
        ..PipelineConfig::default()
    })
    .expect("pipeline")
}

/// About 1 KB of mixed English prose, code and numbers, the same on every run.
#[must_use]
pub fn text_1kb() -> String {
    let base = "The agent qualified lead #42 (Ada Lovelace, CTO at Acme Robotics) with a score of 8/10: \
                they attended the webinar on 2026-11-21 and asked about pricing at $12.50 per seat. \
                def score(lead):\n    return min(10, lead.visits * 2)  # heuristic\n\
                Next steps: schedule a demo, send the whitepaper, follow up in 3 days. ";
    let mut s = String::with_capacity(1100);
    while s.len() < 1024 {
        s.push_str(base);
    }
    s.truncate(1024);
    s
}

/// A deterministic English-like corpus of about `bytes` bytes in which roughly
/// `pii_percent` of the sentences carry a PII value (emails, phones, cards, SSNs,
/// IPs, keys) among ordinary numbers, dates and prices.
#[must_use]
pub fn pii_corpus(bytes: usize, pii_percent: u64) -> String {
    const SENTENCES: &[&str] = &[
        "The quarterly report shows revenue grew 12% to $4.2 million on 2026-11-21.",
        "Our agent reviewed 341 leads and scheduled 27 demos for the sales team.",
        "Please find attached the summary of the meeting with the product group.",
        "The model answered in 1.8 seconds and used 1,204 tokens in total.",
        "Version 3.14 of the client fixes the retry logic described in ticket 5512.",
        "She asked whether the contract renewal could move to the first week of March.",
        "Order 100234567 shipped from the Denver warehouse on Tuesday morning.",
        "The committee approved the budget after a long discussion about hiring.",
    ];
    const PII: &[&str] = &[
        "Contact jane.roe@example.com for details.",
        "Call her at (415) 555-2671 after lunch.",
        "The card on file is 4111 1111 1111 1111.",
        "His SSN is 536-22-8726 according to the form.",
        "The server at 192.168.10.254 stopped responding.",
        "Rotate the key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123 today.",
    ];
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut out = String::with_capacity(bytes + 128);
    while out.len() < bytes {
        let state = rng.next();
        let pick = usize::try_from(state % 1000).unwrap_or(0);
        if (state >> 32) % 100 < pii_percent {
            out.push_str(PII[pick % PII.len()]);
        } else {
            out.push_str(SENTENCES[pick % SENTENCES.len()]);
        }
        out.push(' ');
    }
    out
}

/// About `bytes` bytes of service log lines, dense with digits, colons, dashes
/// and hex: timestamps, UUIDs, latencies, and an internal IP on every line
/// (a PII finding per line: the worst case for per-candidate work).
#[must_use]
pub fn log_corpus(bytes: usize) -> String {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(bytes + 256);
    let mut line = 0u64;
    while out.len() < bytes {
        let state = rng.next();
        line += 1;
        out.push_str(&format!(
            "2026-11-21T10:{:02}:{:02}.{:03}Z INFO req={:08x}-{:04x}-4{:03x}-a{:03x}-{:012x} \
             latency_ms={} status=200 bytes={} upstream=10.0.{}.{}:8080\n",
            (state >> 8) % 60,
            (state >> 16) % 60,
            (state >> 24) % 1000,
            state & 0xFFFF_FFFF,
            (state >> 32) & 0xFFFF,
            (state >> 40) & 0xFFF,
            (state >> 44) & 0xFFF,
            state.rotate_left(17) & 0xFFFF_FFFF_FFFF,
            (state >> 3) % 900,
            (state >> 5) % 100_000,
            line % 256,
            (state >> 50) % 254 + 1,
        ));
    }
    out
}

/// About `bytes` bytes of CSV rows of numbers, prices, dates and ids, with no PII.
#[must_use]
pub fn numeric_corpus(bytes: usize) -> String {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut out = String::with_capacity(bytes + 128);
    while out.len() < bytes {
        let state = rng.next();
        out.push_str(&format!(
            "{},{}.{:02},2026-{:02}-{:02},{},{}.{},SKU-{}\n",
            state % 100_000,
            (state >> 17) % 1000,
            (state >> 27) % 100,
            (state >> 33) % 12 + 1,
            (state >> 37) % 28 + 1,
            (state >> 42) % 50,
            (state >> 47) % 10,
            (state >> 51) % 100,
            (state >> 20) % 1_000_000,
        ));
    }
    out
}

/// A xorshift64 generator: the corpora are the same on every run and machine.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
