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

use iron_cage_benches::{
    governed_pipeline, pii_scanner, GOVERNED_REPLY as REPLY, GOVERNED_REQUEST as REQUEST,
};
use iron_llm::ApiFormat;

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
    let pipeline = governed_pipeline(Some(pii_scanner()), true);
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
