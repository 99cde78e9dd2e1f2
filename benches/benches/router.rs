//! Router added latency: the same chat completion sent straight to FakeProvider
//! and through LlmRouter (PII scan on, breaker on, unlimited budget), one
//! request at a time and paced at 1,000 requests per second. Prints
//! percentiles; BENCHMARKS.md records them.
//!
//! `cargo bench -p iron_cage_benches --bench router`; with
//! `IRON_CAGE_BENCH_UPSTREAM=<base url>` it uses that FakeProvider instead of an
//! in-process one, and with `IRON_CAGE_BENCH_PEER=<base url>` and
//! `IRON_CAGE_BENCH_PEER_KEY` it also measures a peer gateway (LiteLLM proxy) one
//! request at a time (`make bench-router` runs all of it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use iron_runtime::{FakeProvider, Pipeline, PipelineConfig, Router, RouterConfig};
use iron_safety::{Scanner, ScannerConfig};

const BODY: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Summarise the quarterly report in one sentence."}]}"#;

type C = Client<HttpConnector, Full<Bytes>>;

async fn one(client: &C, url: &str, key: &str) -> (Duration, Option<u64>) {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .expect("request");
    let t = Instant::now();
    let resp = client.request(req).await.expect("response");
    assert!(resp.status().is_success(), "status {}", resp.status());
    let overhead = resp
        .headers()
        .get("x-iron-cage-overhead-us")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let _ = resp.into_body().collect().await.expect("body");
    (t.elapsed(), overhead)
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(label: &str, mut us: Vec<u64>) -> (u64, u64) {
    us.sort_unstable();
    let (p50, p90, p99) = (pct(&us, 0.5), pct(&us, 0.9), pct(&us, 0.99));
    println!(
        "{label:44} n={:5}  p50 {p50:5} us  p90 {p90:5} us  p99 {p99:5} us",
        us.len()
    );
    (p50, p99)
}

fn summary(title: &str, direct: Vec<u64>, routed: Vec<u64>, overhead: Vec<u64>) {
    println!("{title}");
    let (d50, d99) = report("  direct to FakeProvider", direct);
    let (r50, r99) = report("  through LlmRouter", routed);
    report("  router's own time (x-iron-cage-overhead-us)", overhead);
    println!(
        "  added latency: p50 {} us, p99 {} us",
        r50.saturating_sub(d50),
        r99.saturating_sub(d99)
    );
}

async fn sequential(client: &C, url: &str, key: &str, n: usize) -> (Vec<u64>, Vec<u64>) {
    let mut lat = Vec::with_capacity(n);
    let mut over = Vec::new();
    for _ in 0..n {
        let (d, o) = one(client, url, key).await;
        lat.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        over.extend(o);
    }
    (lat, over)
}

async fn paced(client: &C, url: &str, key: &str, rate: u64, seconds: u64) -> (Vec<u64>, Vec<u64>) {
    let client = Arc::new(client.clone());
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::new();
    for _ in 0..rate * seconds {
        tick.tick().await;
        let (c, u, k) = (Arc::clone(&client), url.to_owned(), key.to_owned());
        handles.push(tokio::spawn(async move { one(&c, &u, &k).await }));
    }
    let mut lat = Vec::new();
    let mut over = Vec::new();
    for h in handles {
        let (d, o) = h.await.expect("task");
        lat.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        over.extend(o);
    }
    (lat, over)
}

fn main() {
    let external = std::env::var("IRON_CAGE_BENCH_UPSTREAM").ok();
    let local = if external.is_none() {
        Some(FakeProvider::start(0, None).expect("fake provider"))
    } else {
        None
    };
    let upstream = external.unwrap_or_else(|| {
        local
            .as_ref()
            .map(FakeProvider::base_url)
            .unwrap_or_default()
    });
    let peer = std::env::var("IRON_CAGE_BENCH_PEER").ok();
    let peer_key = std::env::var("IRON_CAGE_BENCH_PEER_KEY").unwrap_or_default();
    let scanner = Arc::new(
        Scanner::new(ScannerConfig {
            hmac_key: b"bench".to_vec(),
            ..ScannerConfig::default()
        })
        .expect("scanner"),
    );
    let pipeline = Pipeline::new(PipelineConfig {
        scanner: Some(scanner),
        breaker: Some(iron_reliability::BreakerConfig::default()),
        ..PipelineConfig::default()
    })
    .expect("pipeline");
    let router = Router::start(
        RouterConfig {
            api_key: "bench-key".into(),
            openai_upstream: upstream.clone(),
            anthropic_upstream: upstream.clone(),
            openai_key: iron_runtime::KeySlot::holding(Some("provider".into())),
            ..RouterConfig::default()
        },
        pipeline,
    )
    .expect("router");
    let direct = format!("{upstream}/chat/completions");
    let routed = format!("{}/chat/completions", router.base_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client: C = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        sequential(&client, &direct, "k", 300).await;
        sequential(&client, &routed, "bench-key", 300).await;
        let (d, _) = sequential(&client, &direct, "k", 3000).await;
        let (r, o) = sequential(&client, &routed, "bench-key", 3000).await;
        summary("one request at a time (keep-alive):", d.clone(), r, o);
        if let Some(peer) = &peer {
            let url = format!("{peer}/chat/completions");
            sequential(&client, &url, &peer_key, 50).await;
            let (p, _) = sequential(&client, &url, &peer_key, 500).await;
            println!("peer gateway, one request at a time:");
            let (d50, d99) = report("  direct to FakeProvider", d);
            let (p50, p99) = report("  through the peer (LiteLLM proxy)", p);
            println!(
                "  added latency: p50 {} us, p99 {} us",
                p50.saturating_sub(d50),
                p99.saturating_sub(d99)
            );
        }
        let (d, _) = paced(&client, &direct, "k", 1000, 5).await;
        let (r, o) = paced(&client, &routed, "bench-key", 1000, 5).await;
        summary("paced at 1000 requests/s for 5 s:", d, r, o);
    });
}
