//! The circuit breaker's check+record: admit a call and report its outcome.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iron_reliability::{BreakerConfig, CircuitBreaker, Clock, RetryPolicy};

fn breaker(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker");
    g.throughput(Throughput::Elements(1));
    let b =
        CircuitBreaker::new("bench", BreakerConfig::default(), Clock::monotonic()).expect("valid");
    g.bench_function("admit_success/closed", |bench| {
        bench.iter(|| {
            let permit = b.admit(black_box(0)).expect("closed");
            black_box(permit.success());
        });
    });
    let open =
        CircuitBreaker::new("open", BreakerConfig::default(), Clock::monotonic()).expect("valid");
    open.force_open();
    g.bench_function("admit_rejected/open", |bench| {
        bench.iter(|| black_box(open.admit(black_box(1)).is_err()))
    });
    g.finish();

    let policy = RetryPolicy {
        base_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    c.bench_function("retry/delay", |bench| {
        bench.iter(|| policy.delay(black_box(3), None, black_box(0.5)))
    });
}

criterion_group!(benches, breaker);
criterion_main!(benches);
