//! Hot paths of the cost engine: ledger reserve+commit (alone and under 2-thread
//! contention), token counting of 1 KB, and pricing a usage object.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_cage_benches::text_1kb;
use iron_cost::{Ledger, Money, PriceTable, Tier, Tokenizer};

fn ledger(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(1));
    let l = Ledger::new("bench", Money::MAX, &[900_000]);
    g.bench_function("reserve_commit/uncontended", |b| {
        b.iter(|| {
            let r = l
                .reserve(black_box(Money::from_micros(1_000)))
                .expect("room");
            r.commit(black_box(Money::from_micros(700)));
        });
    });
    g.bench_function("reserve_commit_shared/uncontended", |b| {
        b.iter(|| {
            let r = l
                .reserve_shared(black_box(Money::from_micros(1_000)))
                .expect("room");
            r.commit(black_box(Money::from_micros(700))).expect("once");
        });
    });
    // A second thread reserves and commits on the same ledger the whole time:
    // the measured thread's operations pay for the cache-line transfers.
    g.bench_function("reserve_commit/contended_2_threads_latency", |b| {
        b.iter_custom(|iters| {
            let stop = Arc::new(AtomicBool::new(false));
            let other = {
                let (l, stop) = (Arc::clone(&l), Arc::clone(&stop));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        l.reserve(Money::from_micros(1_000))
                            .expect("room")
                            .commit(Money::from_micros(700));
                    }
                })
            };
            thread::sleep(Duration::from_millis(1));
            let start = Instant::now();
            for _ in 0..iters {
                let r = l
                    .reserve(black_box(Money::from_micros(1_000)))
                    .expect("room");
                r.commit(black_box(Money::from_micros(700)));
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            other.join().expect("contender");
            elapsed
        });
    });
    // Both threads do the operation; time per operation of their combined throughput.
    g.bench_function("reserve_commit/contended_2_threads_throughput", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_| {
                l.reserve(black_box(Money::from_micros(1_000)))
                    .expect("room")
                    .commit(black_box(Money::from_micros(700)));
            })
        });
    });
    // The floor, measured the same way: one contended compare-and-swap increment,
    // the least any exact shared limit check can cost.
    let counter = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("floor_one_cas/contended_2_threads_throughput", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |_| {
                let mut v = counter.load(Ordering::Relaxed);
                while let Err(x) =
                    counter.compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Relaxed)
                {
                    v = x;
                }
            })
        });
    });
    g.finish();
}

/// Runs `iters` calls of `op` split over two threads; returns the wall time.
fn two_threads(iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    thread::scope(|s| {
        let half = iters / 2;
        let op = &op;
        s.spawn(move || (0..half).for_each(op));
        (half..iters).for_each(op);
    });
    start.elapsed()
}

fn tokens(c: &mut Criterion) {
    let text = text_1kb();
    let mut g = c.benchmark_group("count_tokens");
    g.throughput(Throughput::Bytes(text.len() as u64));
    for (name, t) in [
        ("o200k_base/1kb", Tokenizer::O200kBase),
        ("cl100k_base/1kb", Tokenizer::Cl100kBase),
    ] {
        black_box(t.count_text("warm up"));
        g.bench_function(name, |b| b.iter(|| t.count_text(black_box(&text))));
    }
    g.finish();
}

fn pricing(c: &mut Criterion) {
    let table = PriceTable::embedded();
    let usage = serde_json::json!({"prompt_tokens": 1200, "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 0}});
    c.bench_function("cost_of/openai_chat_snapshot_name", |b| {
        b.iter(|| {
            table
                .cost_of_json(
                    black_box("gpt-4o-2024-08-06"),
                    black_box(&usage),
                    Tier::Standard,
                )
                .expect("priced")
        });
    });
}

criterion_group!(benches, ledger, tokens, pricing);
criterion_main!(benches);
