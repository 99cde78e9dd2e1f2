//! The zero-overspend guarantee under real parallelism (no GIL here).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use iron_cage_it::Rng;
use iron_cost::{thresholds_ppm, Ledger, LedgerEvent, Money};

const THREADS: usize = 16;

/// Runs 16 threads of random reserve/commit/release/drop against one ledger while
/// a monitor checks `spent + reserved <= limit` continuously; then checks that
/// every committed micro-dollar is accounted for and each threshold fired at most once.
fn stress(seed: u64, limit: u64, ops: usize) {
    let ledger = Ledger::new(
        "stress",
        Money::from_micros(limit),
        &thresholds_ppm(&[0.5, 0.9]).expect("valid"),
    );
    let fired = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    {
        let fired = Arc::clone(&fired);
        ledger.subscribe(move |e| {
            let LedgerEvent::ThresholdCrossed { threshold_ppm, .. } = e;
            fired[usize::from(*threshold_ppm == 900_000)].fetch_add(1, Ordering::SeqCst);
        });
    }
    let committed = Arc::new(AtomicU64::new(0));
    // Workers, the monitor and this thread all start together.
    let start = Arc::new(Barrier::new(THREADS + 2));
    let done = Arc::new(AtomicBool::new(false));

    let monitor = {
        let (ledger, start, done) = (Arc::clone(&ledger), Arc::clone(&start), Arc::clone(&done));
        thread::spawn(move || {
            start.wait();
            // Checks at least once more after the workers finish, however the
            // scheduler interleaved them.
            loop {
                let finished = done.load(Ordering::Acquire);
                let s = ledger.snapshot();
                assert!(
                    s.spent.micros() + s.reserved.micros() <= s.limit.micros(),
                    "overspent: {s:?}"
                );
                if finished {
                    break;
                }
            }
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (ledger, start, committed) = (
                Arc::clone(&ledger),
                Arc::clone(&start),
                Arc::clone(&committed),
            );
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 1000 + t as u64);
                let mut held = Vec::new();
                start.wait();
                for _ in 0..ops {
                    match rng.below(4) {
                        0 | 1 => {
                            if let Ok(r) =
                                ledger.reserve_shared(Money::from_micros(rng.below(limit / 8 + 2)))
                            {
                                held.push(r);
                            }
                        }
                        2 if !held.is_empty() => {
                            let r = held.swap_remove(0);
                            let actual = r.amount().micros() * rng.below(101) / 100;
                            r.commit(Money::from_micros(actual)).expect("first settle");
                            committed.fetch_add(actual, Ordering::SeqCst);
                        }
                        _ if !held.is_empty() => {
                            let r = held.swap_remove(0);
                            if rng.below(2) == 0 {
                                r.release().expect("first settle");
                            } // else: dropped unsettled, which releases
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();

    start.wait();
    for w in workers {
        w.join().expect("worker");
    }
    done.store(true, Ordering::Release);
    monitor.join().expect("monitor saw no overspend");

    let s = ledger.snapshot();
    assert_eq!(
        s.spent.micros(),
        committed.load(Ordering::SeqCst),
        "every committed micro-dollar is spent"
    );
    assert_eq!((s.reserved, s.overrun), (Money::ZERO, Money::ZERO));
    for (i, ppm) in [500_000u64, 900_000].into_iter().enumerate() {
        let crossed =
            u128::from(s.spent.micros()) * 1_000_000 >= u128::from(limit) * u128::from(ppm);
        let n = fired[i].load(Ordering::SeqCst);
        assert!(n <= 1, "threshold {ppm} fired {n} times");
        if crossed && s.spent.micros() > 0 {
            assert_eq!(n, 1, "threshold {ppm} crossed but not fired");
        }
    }
}

#[test]
fn sixteen_threads_never_overspend_and_account_for_everything() {
    for seed in 1..=12 {
        stress(seed, 1_000_000 + seed * 77_777, 4_000);
    }
}

#[test]
fn tiny_budgets_under_contention() {
    for seed in 100..110 {
        stress(seed, seed % 7, 2_000);
    }
}

#[test]
fn children_sharing_a_parent_never_exceed_it() {
    let parent = Ledger::new("team", Money::from_micros(1_000_000), &[]);
    let kids: Vec<_> = (0..4)
        .map(|i| Ledger::child(&parent, format!("k{i}"), Money::from_micros(400_000), &[]))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (parent, done) = (Arc::clone(&parent), Arc::clone(&done));
        thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let s = parent.snapshot();
                assert!(s.spent.micros() + s.reserved.micros() <= 1_000_000, "{s:?}");
            }
        })
    };
    let handles: Vec<_> = kids
        .iter()
        .enumerate()
        .map(|(i, kid)| {
            let kid = Arc::clone(kid);
            thread::spawn(move || {
                let mut rng = Rng::new(i as u64 + 7);
                for _ in 0..20_000 {
                    if let Ok(r) = kid.reserve_shared(Money::from_micros(rng.below(50_000))) {
                        if rng.below(3) == 0 {
                            r.commit(Money::from_micros(r.amount().micros() / 100))
                                .expect("settle");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("kid");
    }
    done.store(true, Ordering::Release);
    monitor.join().expect("monitor");
    let total: u64 = kids.iter().map(|k| k.spent().micros()).sum();
    assert_eq!(parent.spent().micros(), total);
    for k in &kids {
        assert!(k.spent().micros() <= 400_000);
    }
}
