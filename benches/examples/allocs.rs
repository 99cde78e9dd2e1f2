//! Heap allocations of one governed call (begin + complete, PII scan and
//! breaker on), each with the frames that made it. Every allocation runs
//! malloc code that a cold call has to fetch, so the fewer the better.
//!
//! Run: `cargo run --release -p iron_cage_benches --example allocs`
//! (`ALLOC_TRACE=1` prints a backtrace for each).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use iron_cost::Money;
use iron_llm::ApiFormat;
use iron_reliability::{BreakerConfig, TripRule};
use iron_runtime::pipeline::{Pipeline, PipelineConfig};
use iron_safety::{Scanner, ScannerConfig};

const REQUEST: &[u8] = br#"{"messages": [{"role": "user", "content": "Summarise the quarterly report in one sentence."}], "model": "gpt-4o-mini", "max_tokens": 64}"#;
const REPLY: &[u8] = br#"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Reply 1 from gpt-4o-mini: you wrote 7 words, starting with \"Summarise the quarterly report in one sentence.\". Here is a short, deterministic answer.","refusal":null,"role":"assistant"}}],"created":1795331785,"id":"chatcmpl-9e3779b97f4a7c15","model":"gpt-4o-mini","object":"chat.completion","system_fingerprint":"fp_fake","usage":{"completion_tokens":38,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0},"prompt_tokens":17,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"total_tokens":55}}"#;

static ON: AtomicBool = AtomicBool::new(false);
thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

struct Counting;

fn note(kind: &str, size: usize) {
    if !ON.load(Ordering::Relaxed) || INSIDE.with(Cell::get) {
        return;
    }
    INSIDE.with(|i| i.set(true));
    eprintln!("{kind} {size} bytes");
    if std::env::var_os("ALLOC_TRACE").is_some() {
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        for line in bt
            .lines()
            .filter(|l| !l.contains("std::") && !l.contains("at "))
            .take(12)
        {
            eprintln!("    {}", line.trim());
        }
    }
    INSIDE.with(|i| i.set(false));
}

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note("alloc", layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note("realloc", new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let scanner = Arc::new(
        Scanner::new(ScannerConfig {
            hmac_key: vec![7; 32],
            ..ScannerConfig::default()
        })
        .expect("scanner"),
    );
    let pipeline = Pipeline::new(PipelineConfig {
        budget: Some(Money::from_usd_f64(1e6, "budget").expect("a valid budget")),
        scanner: Some(scanner),
        breaker: Some(BreakerConfig {
            trip: TripRule::Consecutive(5),
            ..BreakerConfig::default()
        }),
        ..PipelineConfig::default()
    })
    .expect("pipeline");
    // Let the tokenizer warm-up thread finish (its allocations are not the call's).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let fmt = ApiFormat::ChatCompletions;
    for _ in 0..3 {
        let call = pipeline.begin(fmt, REQUEST).expect("begin");
        black_box(call.complete(200, None, REPLY).expect("complete"));
    }
    eprintln!("-- begin");
    ON.store(true, Ordering::Relaxed);
    let call = pipeline.begin(fmt, REQUEST).expect("begin");
    ON.store(false, Ordering::Relaxed);
    eprintln!("-- complete");
    ON.store(true, Ordering::Relaxed);
    black_box(call.complete(200, None, REPLY).expect("complete"));
    ON.store(false, Ordering::Relaxed);
}
