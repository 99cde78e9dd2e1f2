//! The pipeline end to end in Rust alone: admit, forward (a FakeProvider reply
//! rendered in-process), charge, scan, stream, refuse. `cargo test` catches a
//! pipeline regression without the Python layer.

use std::sync::{Arc, Mutex};

use iron_cost::{Money, PriceTable, Usage};
use iron_llm::{ApiFormat, ParsedRequest};
use iron_reliability::BreakerConfig;
use iron_safety::{Mode, Scanner, ScannerConfig};

use crate::error::PipelineError;
use crate::fake::render_reply;
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::record::CallRecord;

fn usd(v: f64) -> Money {
    Money::from_usd_f64(v, "test").expect("an amount")
}

fn pipeline(budget: f64, mode: Option<Mode>) -> Arc<Pipeline> {
    let scanner = mode.map(|mode| {
        Arc::new(
            Scanner::new(ScannerConfig {
                mode,
                hmac_key: b"k".to_vec(),
                ..ScannerConfig::default()
            })
            .expect("scanner"),
        )
    });
    Pipeline::new(PipelineConfig {
        budget: Some(usd(budget)),
        scanner,
        breaker: Some(BreakerConfig::default()),
        prices: Some(Arc::new(PriceTable::embedded().clone())),
        ..PipelineConfig::default()
    })
    .expect("pipeline")
}

fn records(p: &Pipeline) -> Arc<Mutex<Vec<CallRecord>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    p.events()
        .subscribe_calls(move |r| s.lock().expect("lock").push(r.clone()));
    seen
}

const CHAT: &str = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "Summarise the report."}]}"#;

#[test]
fn a_call_reserves_its_worst_case_then_commits_what_was_billed() {
    let p = pipeline(1.0, Some(Mode::Redact));
    let seen = records(&p);
    let call = p
        .begin(ApiFormat::ChatCompletions, CHAT.as_bytes())
        .expect("admitted");
    let reserved = call.estimate().cost;
    assert!(reserved > Money::ZERO);
    assert_eq!(p.ledger().snapshot().reserved, reserved);
    let (reply, streamed) =
        render_reply("/v1/chat/completions", CHAT.as_bytes(), 1, None).expect("a reply");
    assert!(!streamed);
    let rewritten = call.complete(200, None, &reply).expect("charged");
    assert!(rewritten.is_none(), "nothing to redact");
    let snap = p.ledger().snapshot();
    assert_eq!(snap.reserved, Money::ZERO, "the rest was released");
    let body: serde_json::Value = serde_json::from_slice(&reply).expect("json");
    let billed = PriceTable::embedded()
        .cost_of_json("gpt-4o-mini", &body["usage"], iron_cost::Tier::Standard)
        .expect("priced");
    assert_eq!(snap.spent, billed);
    assert!(billed <= reserved);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!((r.cost, r.reserved, r.status), (billed, reserved, 200));
    assert_eq!(
        r.input_tokens,
        body["usage"]["prompt_tokens"].as_u64().expect("n")
    );
    // The JSON event says the same as the record it is made from.
    assert_eq!(r.to_json()["cost_micros"], billed.micros());
}

#[test]
fn a_call_that_cannot_fit_is_refused_with_the_numbers() {
    let p = pipeline(0.0001, None);
    let body = r#"{"model": "gpt-4", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}"#;
    let err = p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect_err("refused");
    match &err {
        PipelineError::BudgetExceeded { refusal, .. } => {
            assert_eq!(refusal.limit, usd(0.0001));
            assert_eq!(refusal.remaining, usd(0.0001));
            assert!(refusal.requested > refusal.remaining);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((err.status(), err.code()), (402, "budget_exceeded"));
    assert_eq!(
        err.data()["limit_usd"],
        serde_json::json!(0.0001),
        "{}",
        err.body(None)
    );
    assert_eq!(p.ledger().snapshot().reserved, Money::ZERO);
}

#[test]
fn an_upstream_error_charges_nothing_and_teaches_the_breaker() {
    let p = pipeline(1.0, None);
    for _ in 0..5 {
        let call = p
            .begin(ApiFormat::ChatCompletions, CHAT.as_bytes())
            .expect("admitted");
        assert_eq!(call.complete(503, None, b"{}").expect("passes"), None);
    }
    assert_eq!(p.ledger().snapshot().spent, Money::ZERO);
    let err = p
        .begin(ApiFormat::ChatCompletions, CHAT.as_bytes())
        .expect_err("open");
    match err {
        PipelineError::CircuitOpen {
            breaker,
            state,
            retry_after_s,
            ..
        } => {
            assert_eq!((breaker.as_str(), state), ("openai:gpt-4o-mini", "open"));
            assert!(retry_after_s > 0.0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.ledger().snapshot().reserved, Money::ZERO);
}

#[test]
fn block_mode_refuses_the_reply_with_its_findings_and_still_charges() {
    let p = pipeline(1.0, Some(Mode::Block));
    let call = p
        .begin(ApiFormat::ChatCompletions, CHAT.as_bytes())
        .expect("admitted");
    let (reply, _) = render_reply(
        "/v1/chat/completions",
        CHAT.as_bytes(),
        1,
        Some("Mail jane.roe@example.com".into()),
    )
    .expect("a reply");
    match call.complete(200, None, &reply).expect_err("blocked") {
        PipelineError::PiiBlocked { findings, .. } => {
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].entity, "EMAIL");
            assert!(!findings[0].value_hmac.contains("jane"));
        }
        other => panic!("{other:?}"),
    }
    assert!(p.ledger().snapshot().spent > Money::ZERO);
}

#[test]
fn a_stream_is_charged_from_its_usage_and_redacted_across_chunks() {
    let p = pipeline(1.0, Some(Mode::Redact));
    let seen = records(&p);
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
    let call = p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect("admitted");
    // The pipeline asks the stream for usage; the fake honours the body sent.
    let sent = call.modified_body().expect("stream_options added");
    let (sse, streamed) = render_reply(
        "/v1/chat/completions",
        &sent,
        1,
        Some("Write to jane.roe@example.com today.".into()),
    )
    .expect("a reply");
    assert!(streamed);
    let mut guard = call.stream();
    let mut out = Vec::new();
    for chunk in sse.chunks(7) {
        out.extend(guard.feed(chunk));
    }
    let (tail, charge) = guard.finish(true);
    out.extend(tail);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(!text.contains("jane.roe"), "{text}");
    assert!(text.contains("[EMAIL_REDACTED]"), "{text}");
    assert!(charge.exact, "charged from the final usage chunk");
    assert_eq!(p.ledger().snapshot().spent, charge.cost);
    assert_eq!(seen.lock().expect("lock")[0].pii_findings, 1);
}

#[test]
fn a_broken_stream_is_charged_for_what_it_emitted() {
    let p = pipeline(1.0, None);
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
    let call = p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect("admitted");
    let sent = call.modified_body().expect("stream_options added");
    let (sse, _) = render_reply("/v1/chat/completions", &sent, 1, None).expect("a reply");
    let mut guard = call.stream();
    guard.feed(&sse[..sse.len() / 2]);
    let (_, charge) = guard.finish(false);
    assert!(!charge.exact);
    assert!(charge.usage.output > 0 && charge.usage.input > 0);
    let Usage { output, .. } = charge.usage;
    assert!(output < 64);
    assert_eq!(p.ledger().snapshot().spent, charge.cost);
    assert_eq!(p.ledger().snapshot().reserved, Money::ZERO);
}

#[test]
fn a_request_without_a_bound_is_refused_under_a_limit_only() {
    let body = r#"{"model": "gpt-5", "input": "news?", "tools": [{"type": "web_search"}]}"#;
    let limited = pipeline(1.0, None);
    let err = limited
        .begin(ApiFormat::Responses, body.as_bytes())
        .expect_err("no bound");
    assert_eq!(err.code(), "cost_unbounded");
    assert!(err.to_string().contains("web_search"), "{err}");
    let unlimited = Pipeline::new(PipelineConfig::default()).expect("pipeline");
    assert!(unlimited
        .begin(ApiFormat::Responses, body.as_bytes())
        .is_ok());
}

fn egress_pipeline() -> Arc<Pipeline> {
    let scanner = Arc::new(
        Scanner::new(ScannerConfig {
            mode: Mode::Redact,
            hmac_key: b"k".to_vec(),
            ..ScannerConfig::default()
        })
        .expect("scanner"),
    );
    Pipeline::new(PipelineConfig {
        budget: Some(usd(1.0)),
        scanner: Some(scanner),
        egress: Some(crate::egress::PiiPolicy::requests()),
        prices: Some(Arc::new(PriceTable::embedded().clone())),
        ..PipelineConfig::default()
    })
    .expect("pipeline")
}

#[test]
fn values_leave_as_placeholders_and_come_back_restored() {
    let p = egress_pipeline();
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "messages": [
        {"role": "system", "content": "Customer: jane.roe@example.com"},
        {"role": "user", "content": [{"type": "text", "text": "Write to jane.roe@example.com and call (415) 555-2671."}]},
        {"role": "tool", "tool_call_id": "t1", "content": "{\"email\": \"bob@example.org\"}"}]}"#;
    let call = p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect("admitted");
    let sent = String::from_utf8(call.modified_body().expect("rewritten")).expect("utf-8");
    assert!(
        !sent.contains("jane.roe") && !sent.contains("555-2671") && !sent.contains("bob@"),
        "{sent}"
    );
    assert!(
        sent.contains("<EMAIL_1>") && sent.contains("<PHONE_1>") && sent.contains("<EMAIL_2>"),
        "{sent}"
    );
    // The reservation counts what is sent.
    assert_eq!(
        call.request().input_tokens(),
        ParsedRequest::parse(ApiFormat::ChatCompletions, sent.as_bytes())
            .expect("parses")
            .input_tokens()
    );
    let (reply, _) = render_reply(
        "/v1/chat/completions",
        sent.as_bytes(),
        1,
        Some("Done: mailed <EMAIL_1>, not <EMAIL_7>.".into()),
    )
    .expect("a reply");
    let out = call
        .complete(200, None, &reply)
        .expect("charged")
        .expect("restored");
    let text = String::from_utf8(out).expect("utf-8");
    // Restored after the reply scan: the agent's own value is not redacted away.
    assert!(
        text.contains("mailed jane.roe@example.com, not <EMAIL_7>."),
        "{text}"
    );
}

#[test]
fn a_credential_in_a_prompt_is_refused_before_anything_is_reserved() {
    let p = egress_pipeline();
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "debug this: OPENAI_API_KEY=sk-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf01"}]}"#;
    match p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect_err("blocked")
    {
        PipelineError::PiiBlocked { message, findings } => {
            assert_eq!(findings[0].entity, "API_KEY");
            assert!(message.contains("nothing was sent"), "{message}");
            assert!(!message.contains("sk-proj"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.ledger().snapshot().reserved, Money::ZERO);
}

#[test]
fn placeholders_in_the_tool_calls_a_reply_makes_are_restored() {
    let p = egress_pipeline();
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "mail jane.roe@example.com"}]}"#;
    let call = p
        .begin(ApiFormat::ChatCompletions, body.as_bytes())
        .expect("admitted");
    // The model writes the placeholder in a tool call; the agent's tool must get the address.
    let reply = r#"{"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
        "tool_calls": [{"id": "t", "type": "function", "function": {"name": "send", "arguments": "{\"to\": \"\u003cEMAIL_1\u003e\", \"cc\": [\"<EMAIL_1>\"]}"}}]}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9}}"#;
    let out = call
        .complete(200, None, reply.as_bytes())
        .expect("charged")
        .expect("restored");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .expect("a string");
    let args: serde_json::Value = serde_json::from_str(args).expect("still JSON");
    assert_eq!(
        args,
        serde_json::json!({"to": "jane.roe@example.com", "cc": ["jane.roe@example.com"]})
    );
}

#[test]
fn a_value_next_to_a_json_escape_is_found() {
    // In the raw body `\nsk-...` reads as one word; the text the provider decodes does not.
    let p = egress_pipeline();
    for text in [
        r"key:\nsk-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf01\nthanks",
        r"\u0073k-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf01",
    ] {
        let body = format!(
            r#"{{"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{{"role": "user", "content": "{text}"}}]}}"#
        );
        assert!(
            matches!(
                p.begin(ApiFormat::ChatCompletions, body.as_bytes()),
                Err(PipelineError::PiiBlocked { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn a_streamed_placeholder_is_restored_across_every_chunk_boundary() {
    let p = egress_pipeline();
    let body = r#"{"model": "gpt-4o-mini", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hello jane.roe@example.com"}]}"#;
    for size in [1, 2, 3, 5, 7, 11, 64] {
        let call = p
            .begin(ApiFormat::ChatCompletions, body.as_bytes())
            .expect("admitted");
        let sent = call.modified_body().expect("rewritten");
        let (sse, _) = render_reply(
            "/v1/chat/completions",
            &sent,
            1,
            Some("Hi <EMAIL_1>, done.".into()),
        )
        .expect("a reply");
        let mut guard = call.stream();
        let mut out = Vec::new();
        for chunk in sse.chunks(size) {
            out.extend(guard.feed(chunk));
        }
        out.extend(guard.finish(true).0);
        let text = String::from_utf8(out).expect("utf-8");
        let content: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            content, "Hi jane.roe@example.com, done.",
            "chunks of {size}"
        );
    }
}
