//! What scanning a request costs: admitting a 2 KB chat request (a system and
//! a user message of 1 KB each) through the pipeline with the request policy
//! off and on, for a request without PII (raw body; with JSON escapes, text by
//! text) and one with four values to pseudonymize (rewritten, counted again).
//! The reservation is released when the call is dropped.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_cage_benches::{pii_corpus, pii_scanner, text_1kb};
use iron_cost::Money;
use iron_llm::ApiFormat;
use iron_runtime::{PiiPolicy, Pipeline, PipelineConfig};
use serde_json::json;

fn pipeline(egress: bool) -> std::sync::Arc<Pipeline> {
    Pipeline::new(PipelineConfig {
        budget: Some(Money::from_usd_f64(1e6, "budget").expect("a valid budget")),
        scanner: Some(pii_scanner()),
        egress: egress.then(PiiPolicy::requests),
        ..PipelineConfig::default()
    })
    .expect("pipeline")
}

fn request(system: &str, user: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"model": "gpt-4o-mini", "max_tokens": 256, "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": user}]}),
    )
    .expect("json")
}

fn egress(c: &mut Criterion) {
    // English without PII or escapes (the sentences of the PII corpus) ...
    let mut prose = pii_corpus(1100, 0);
    prose.truncate(prose[..1024].rfind(' ').unwrap_or(1024));
    let clean = request(&prose, &prose);
    // ... prose, code and numbers with newlines (JSON escapes: scanned text by text) ...
    let escaped = request(&text_1kb(), &text_1kb());
    // ... and with four values to replace.
    let mut user = prose.clone();
    user.insert_str(
        0,
        "Mail jane.roe@example.com and bob@example.org, call (415) 555-2671, cc ops@example.net. ",
    );
    user.truncate(user[..1024].rfind(' ').unwrap_or(1024));
    let pii = request(&prose, &user);
    assert!(clean.len() >= 2000 && pii.len() >= 2000);
    let mut g = c.benchmark_group("egress_2kb_request");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    for (name, on) in [("policy_off", false), ("policy_on", true)] {
        let p = pipeline(on);
        for (kind, body) in [
            ("no_pii", &clean),
            ("no_pii_escaped", &escaped),
            ("four_values", &pii),
        ] {
            g.bench_function(format!("{name}/{kind}"), |b| {
                b.iter(|| {
                    let call = p
                        .begin(ApiFormat::ChatCompletions, black_box(body))
                        .expect("admitted");
                    black_box(call.modified_body());
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, egress);
criterion_main!(benches);
