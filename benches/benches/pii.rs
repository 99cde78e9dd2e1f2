//! PII scan throughput on a deterministic corpus: ~1% of sentences carry PII,
//! and PII-free text; plus one 1 KB scan.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_cage_benches::pii_corpus;
use iron_safety::{Mode, Scanner, ScannerConfig};

fn pii(c: &mut Criterion) {
    let scanner = Scanner::new(ScannerConfig {
        mode: Mode::Redact,
        hmac_key: b"bench".to_vec(),
        ..ScannerConfig::default()
    })
    .expect("valid");
    let mut g = c.benchmark_group("pii_scan");
    for (name, pct) in [("mixed_1pct", 1), ("pii_free", 0)] {
        let text = pii_corpus(1 << 20, pct);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| scanner.scan(black_box(&text))));
    }
    let kb = pii_corpus(1024, 1);
    g.throughput(Throughput::Bytes(kb.len() as u64));
    g.bench_function("1kb", |b| b.iter(|| scanner.scan(black_box(&kb))));
    g.finish();
}

criterion_group!(benches, pii);
criterion_main!(benches);
