//! PII scan throughput on deterministic corpora: English with ~1% of sentences
//! carrying PII, PII-free English, service logs (an IP per line), numeric CSV
//! and source code (this repository's Rust crates other than the PII engine,
//! read at run time: `::` paths, hex, numbers); each also with the
//! full-automaton reference scan; plus one 1 KB scan.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_cage_benches::{log_corpus, numeric_corpus, pii_corpus};
use iron_safety::{Mode, Scanner, ScannerConfig};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// About `bytes` bytes of this repository's Rust sources (`crates/`, without
/// `iron_safety`, whose tests are full of PII), repeated as needed.
fn code_corpus(bytes: usize) -> String {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    let text: String = files
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "iron_safety"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    assert!(!text.is_empty(), "no sources under {}", crates.display());
    let mut out = String::with_capacity(bytes + text.len());
    while out.len() < bytes {
        out.push_str(&text);
    }
    let mut end = bytes;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out
}

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
        ("code", code_corpus(1 << 20)),
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
