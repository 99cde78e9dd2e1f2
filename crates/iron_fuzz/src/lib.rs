//! The properties the fuzz targets in `fuzz/` check, one function per target.
//!
//! Each takes the fuzzer's raw bytes and panics when a property fails. They
//! live here, in a workspace crate, so that `cargo test` (stable, no
//! libFuzzer) replays every committed seed in `fuzz/seeds/<target>/` through
//! exactly the code the fuzzer runs (see `tests/seeds.rs`).
//!
//! Inputs that pick a format use their first byte for it (`byte % 4`, see
//! [`format_of`]); the rest is the body or stream.

#![allow(clippy::missing_panics_doc)]

use std::sync::{Arc, OnceLock};

use iron_llm::fuzzing::parse_request_tree;
use iron_llm::response::{for_each_text_mut, skim, skimmed_usage, usage_of};
use iron_llm::stream::StreamUsage;
use iron_llm::{ApiFormat, ParsedRequest, SseEvent, SseParser};
use iron_safety::{Mode, Scanner, ScannerConfig, StreamScanner};
use serde_json::Value;

/// The targets, as named in `fuzz/Cargo.toml` and `fuzz/seeds/`.
pub const TARGETS: [&str; 4] = ["request_parse", "reply_skim", "sse_parse", "pii_scan"];

/// Runs the property of `target` on `data`.
///
/// # Panics
/// When a property fails, or `target` is unknown.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "request_parse" => request_parse(data),
        "reply_skim" => reply_skim(data),
        "sse_parse" => sse_parse(data),
        "pii_scan" => pii_scan(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// The format a selector byte picks.
#[must_use]
pub fn format_of(byte: u8) -> ApiFormat {
    match byte % 4 {
        0 => ApiFormat::ChatCompletions,
        1 => ApiFormat::Responses,
        2 => ApiFormat::Messages,
        _ => ApiFormat::Embeddings,
    }
}

/// The request parser the pipeline's `begin` runs ([`ParsedRequest::parse`]:
/// a one-pass skim, with the JSON tree as fallback) must read every body as
/// the tree alone reads it: it accepts exactly what the tree accepts, reads the
/// same model, stream flag, output cap, choices, tier and priced inputs, and
/// its cheap input bound covers the exact count. The text spans it finds for
/// the PII scan lie inside the body between quotes, in order and apart (the
/// pipeline splices rewrites in by them), and cover every string the tree
/// walk visits.
pub fn request_parse(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = format_of(selector);
    let fast = ParsedRequest::parse(format, body);
    let tree = parse_request_tree(format, body);
    let (mut fast, tree) = match (fast, tree) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(f), Err(t)) => {
            assert_eq!(f, t, "both refuse, with the same words");
            return;
        }
        (f, t) => panic!("parse and the tree disagree: {f:?} vs {t:?}"),
    };
    assert_eq!(
        (
            &fast.model,
            fast.stream,
            fast.requested_output,
            fast.choices,
            fast.tier
        ),
        (
            &tree.model,
            tree.stream,
            tree.requested_output,
            tree.choices,
            tree.tier
        )
    );
    assert_eq!(fast.inputs, tree.inputs);
    assert_eq!(fast.body(), tree.body());
    let exact = tree.input_tokens();
    assert_eq!(fast.input_tokens(), exact);
    assert!(fast.input_bound >= exact, "{} < {exact}", fast.input_bound);

    let Some(spans) = fast.sent_text_spans() else {
        return;
    };
    let raw = std::str::from_utf8(body).expect("a parsed body is UTF-8");
    let mut last_quote = 0;
    let mut from_spans: Vec<String> = spans
        .iter()
        .map(|sp| {
            // The pipeline splices rewritten strings in span order, quotes included.
            assert!(sp.start > last_quote, "spans in order, apart");
            assert!(sp.start <= sp.end && sp.end < raw.len());
            assert_eq!(&body[sp.start - 1..sp.start], b"\"");
            assert_eq!(&body[sp.end..=sp.end], b"\"");
            last_quote = sp.end + 1;
            let inner = &raw[sp.start..sp.end];
            if sp.plain {
                assert!(!inner.contains(['\\', '"']), "a plain span has no escapes");
                inner.to_owned()
            } else {
                serde_json::from_str(&format!("\"{inner}\"")).expect("a JSON string")
            }
        })
        .collect();
    let mut visited = Vec::new();
    fast.rewrite_sent_text(&mut |text| {
        visited.push(text.clone());
        false
    });
    // Every string the tree sends is scanned. A key repeated in an object is
    // scanned each time (the tree keeps the last; a provider may read either),
    // so the spans may hold more.
    from_spans.sort();
    for text in &visited {
        let at = from_spans
            .binary_search(text)
            .unwrap_or_else(|_| panic!("{text:?} is sent but not among the spans"));
        from_spans.remove(at);
    }
}

/// The reply skim (usage and texts of a JSON reply read without a tree) takes
/// exactly the bodies `serde_json` parses to an object, and then agrees with
/// the tree: the same usage (or both an error) and the same texts, in order.
pub fn reply_skim(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = format_of(selector);
    let skimmed = skim(format, body);
    let tree = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object);
    let (skimmed, mut tree) = match (skimmed, tree) {
        (Some(s), Some(t)) => (s, t),
        (None, None) => return,
        (Some(_), None) => panic!("the skim took what serde_json does not parse to an object"),
        (None, Some(_)) => panic!("the skim refused a JSON object"),
    };
    // The same usage, or both refuse it (the tree's message may name more).
    assert_eq!(
        skimmed_usage(format, &skimmed).map_err(drop),
        usage_of(format, &tree).map_err(drop)
    );
    let mut texts = Vec::new();
    for_each_text_mut(format, &mut tree, |s| texts.push(s.clone()));
    let skimmed_texts: Vec<&str> = skimmed.texts.iter().map(AsRef::as_ref).collect();
    assert_eq!(skimmed_texts, texts);
}

/// Cuts of `len` bytes into chunks of 1 to 16 bytes, from a seed.
fn chunking(seed: u8, len: usize) -> Vec<usize> {
    let mut x = u32::from(seed) | 0x9E37_0000;
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        at = (at + 1 + (x % 16) as usize).min(len);
        cuts.push(at);
    }
    cuts
}

/// Everything one stream fed in `cuts` yields: events, the unfinished rest,
/// and the usage accounting over them.
fn read_stream(
    format: ApiFormat,
    stream: &[u8],
    cuts: &[usize],
) -> (Vec<SseEvent>, Vec<u8>, StreamUsage) {
    let mut parser = SseParser::new();
    let mut usage = StreamUsage::new(format);
    let mut events = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        events.extend(parser.feed(&stream[at..cut]));
        at = cut;
    }
    let pending = parser.pending().to_vec();
    events.extend(parser.take_rest());
    for ev in &events {
        let data = serde_json::from_str::<Value>(&ev.data).ok();
        usage.observe(ev, data.as_ref());
    }
    (events, pending, usage)
}

/// The SSE splitter gives the same events whatever the chunking (one feed, or
/// chunks of 1-16 bytes): their raw bytes put together are the stream (but a
/// trailing rest of blanks), every
/// event but an unterminated last one ends in a blank line, and the usage
/// accounted from them is the same. An event encoded by [`SseEvent::encode`]
/// reads back as itself.
pub fn sse_parse(data: &[u8]) {
    let [selector, seed, stream @ ..] = data else {
        return;
    };
    let format = format_of(*selector);
    let (whole, whole_pending, whole_usage) = read_stream(format, stream, &[stream.len()]);
    let (chunked, chunked_pending, chunked_usage) =
        read_stream(format, stream, &chunking(*seed, stream.len()));
    assert_eq!(whole, chunked);
    assert_eq!(whole_pending, chunked_pending);
    // A rest of only blanks after the last event is dropped, not made an event.
    let blank_rest = whole_pending.iter().all(u8::is_ascii_whitespace);
    let kept = stream.len() - if blank_rest { whole_pending.len() } else { 0 };
    let joined: String = whole.iter().map(|e| e.raw.as_str()).collect();
    assert_eq!(joined, String::from_utf8_lossy(&stream[..kept]));
    let terminated = whole.len() - usize::from(!blank_rest);
    for ev in &whole[..terminated] {
        assert!(
            ev.raw.ends_with("\n\n") || ev.raw.ends_with("\r\n"),
            "{:?}",
            ev.raw
        );
    }
    assert_eq!(whole_usage.is_complete(), chunked_usage.is_complete());
    assert_eq!(whole_usage.emitted_text(), chunked_usage.emitted_text());
    let tok = iron_cost::Tokenizer::O200kBase;
    assert_eq!(
        whole_usage.usage(7, tok).map_err(|e| e.to_string()),
        chunked_usage.usage(7, tok).map_err(|e| e.to_string())
    );

    // Encoding round trip, for a name without line breaks and data without CR.
    let text = String::from_utf8_lossy(stream);
    let (name, body) = text.split_once('\n').unwrap_or(("", &text));
    if !name.contains('\r') && !body.contains('\r') {
        let name = (!name.is_empty()).then_some(name);
        let raw = SseEvent::encode(name, body);
        let mut p = SseParser::new();
        let evs = p.feed(raw.as_bytes());
        assert_eq!(evs.len(), 1, "{raw:?}");
        assert_eq!(evs[0].event.as_deref(), name);
        assert_eq!(evs[0].data, body);
        assert_eq!(evs[0].raw, raw);
        assert!(p.pending().is_empty());
    }
}

fn scanner() -> &'static Arc<Scanner> {
    static S: OnceLock<Arc<Scanner>> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(
            Scanner::new(ScannerConfig {
                mode: Mode::Redact,
                hmac_key: b"fuzz".to_vec(),
                ..ScannerConfig::default()
            })
            .expect("valid"),
        )
    })
}

/// The PII scanner never panics on UTF-8; its findings are sorted, not
/// overlapping, non-empty, inside the text and on character boundaries;
/// redaction replaces exactly the findings; the findings equal those of the
/// reference scan that runs the automaton over every byte; and streaming
/// (split at a point the first byte picks) equals one-shot scanning.
pub fn pii_scan(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
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
}
