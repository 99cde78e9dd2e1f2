//! PII scan throughput on deterministic corpora: English with ~1% of sentences
//! carrying PII, PII-free English, service logs (an IP per line) and numeric
//! CSV; each also with the full-automaton reference scan; plus one 1 KB scan.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_cage_benches::{log_corpus, numeric_corpus, pii_corpus};
use iron_safety::{Mode, Scanner, ScannerConfig};

fn pii(c: &mut Criterion) {
    let scanner = Scanner::new(ScannerConfig {
        mode: Mode::Redact,
        hmac_key: b"bench".to_vec(),
        ..ScannerConfig::default()
    })
    .expect("valid");
    let mut g = c.benchmark_group("pii_scan");
    let corpora = [
        ("mixed_1pct", pii_corpus(1 << 20, 1)),
        ("pii_free", pii_corpus(1 << 20, 0)),
        ("logs", log_corpus(1 << 20)),
        ("numeric_csv", numeric_corpus(1 << 20)),
    ];
    for (name, text) in corpora {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| scanner.scan(black_box(&text))));
        // The previous engine in the same run: the unanchored automaton over every
        // byte (then the same redaction as `scan`).
        g.bench_function(format!("{name}_full_automaton"), |b| {
            b.iter(|| {
                let text = black_box(&text);
                scanner.redact(text, &scanner.find_by_full_scan(text))
            })
        });
    }
    let kb = pii_corpus(1024, 1);
    g.throughput(Throughput::Bytes(kb.len() as u64));
    g.bench_function("1kb", |b| b.iter(|| scanner.scan(black_box(&kb))));
    g.finish();
}

criterion_group!(benches, pii);
criterion_main!(benches);
