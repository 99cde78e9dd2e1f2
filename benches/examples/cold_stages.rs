//! What each stage of one governed call costs from a cold cache, and hot.
//!
//! Library mode's overhead is paid between two ~1 ms stretches of SDK Python
//! that evict the CPU caches, so a call into the extension runs cold: its cost
//! is mostly the code and data it has to fetch, not its instruction count.
//! Here a 16 MiB copy evicts the caches before each timed stage.
//!
//! Run: `cargo run --release -p iron_cage_benches --example cold_stages`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use iron_cage_benches::{
    governed_pipeline, pii_scanner, GOVERNED_REPLY as REPLY, GOVERNED_REQUEST as REQUEST,
};
use iron_llm::{ApiFormat, ParsedRequest};

const TEXT: &str = "Reply 1 from gpt-4o-mini: you wrote 7 words, starting with \"Summarise the quarterly report in one sentence.\". Here is a short, deterministic answer.";
const ROUNDS: usize = 1500;

struct Evictor {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl Evictor {
    fn evict(&mut self) {
        self.dst.copy_from_slice(&self.src);
        self.src[0] = self.src[0].wrapping_add(1);
        black_box(&self.dst);
    }
}

fn main() {
    let scanner = pii_scanner();
    let full = governed_pipeline(Some(Arc::clone(&scanner)), true);
    let bare = governed_pipeline(None, false);
    let fmt = ApiFormat::ChatCompletions;
    let mut ev = Evictor {
        src: vec![1; 16 << 20],
        dst: vec![0; 16 << 20],
    };
    let stages: [(&str, &dyn Fn()); 6] = [
        ("begin + complete (scan, breaker)", &|| {
            let call = full.begin(fmt, REQUEST).expect("begin");
            black_box(call.complete(200, None, REPLY).expect("complete"));
        }),
        ("begin + complete (bare)", &|| {
            let call = bare.begin(fmt, REQUEST).expect("begin");
            black_box(call.complete(200, None, REPLY).expect("complete"));
        }),
        ("parse the request", &|| {
            black_box(ParsedRequest::parse(fmt, REQUEST).is_ok());
        }),
        ("skim the reply", &|| {
            black_box(iron_llm::response::skim(fmt, REPLY).is_some());
        }),
        ("scan the reply text", &|| {
            black_box(scanner.find(TEXT));
        }),
        ("copy 600 bytes (malloc)", &|| {
            black_box(black_box(&REPLY[..600]).to_vec());
        }),
    ];
    let mut cold = vec![Vec::with_capacity(ROUNDS); stages.len()];
    let mut hot = vec![Vec::with_capacity(ROUNDS); stages.len()];
    for _ in 0..ROUNDS {
        for (k, (_, stage)) in stages.iter().enumerate() {
            ev.evict();
            let t = Instant::now();
            stage();
            cold[k].push(t.elapsed());
            let t = Instant::now();
            stage();
            hot[k].push(t.elapsed());
        }
    }
    println!("{:34} {:>9} {:>9}", "stage", "cold", "hot");
    for (k, (name, _)) in stages.iter().enumerate() {
        cold[k].sort_unstable();
        hot[k].sort_unstable();
        let (c, h) = (cold[k][ROUNDS / 2], hot[k][ROUNDS / 2]);
        println!(
            "{name:34} {:>6.2} us {:>6.2} us",
            c.as_secs_f64() * 1e6,
            h.as_secs_f64() * 1e6
        );
    }
}
