//! Calls that were refused or failed, as the lease client reports them to the
//! Control Panel (docs/protocol.md, "Refused and failed calls").
//!
//! A refused call (no budget, a model or limit the policy refuses, PII the
//! request policy blocks, an open breaker, a stopped agent) or a failed one
//! (the upstream answered an error, timed out, could not be reached) costs
//! nothing, so it is not money to account for: it is what the dashboard lists
//! and counts. A retry loop can refuse thousands of calls a second, so identical
//! outcomes — same model, same status — are collapsed into one report per flush
//! interval with a `count`, the last reason and, for an open breaker, the sum of
//! what the refused calls would have cost at most.

use std::collections::HashMap;

use iron_cost::Money;
use serde_json::{json, Value};

/// The budget (or the lease) does not cover the call, or its cost is unbounded.
pub const REFUSED_BUDGET: &str = "refused_budget";
/// A per-request limit (cost, tokens, calls a minute) refused the call.
pub const REFUSED_LIMIT: &str = "refused_limit";
/// The model or provider is not allowed for this agent.
pub const REFUSED_POLICY: &str = "refused_policy";
/// The agent was stopped in the Control Panel.
pub const REFUSED_STOPPED: &str = "refused_stopped";
/// The request policy blocked PII (or a credential) in what the call would send.
pub const BLOCKED_PII: &str = "blocked_pii";
/// A tool was refused (not allowed, over its limit, its breaker open); the
/// report's model is `tool:<name>`.
pub const REFUSED_TOOL: &str = "refused_tool";
/// The model's circuit breaker is open: the upstream was not called.
pub const BREAKER_OPEN: &str = "breaker_open";
/// The upstream answered an error status.
pub const FAILED_UPSTREAM: &str = "failed_upstream";
/// The upstream did not answer in time.
pub const FAILED_TIMEOUT: &str = "failed_timeout";
/// The upstream could not be reached (or the connection broke).
pub const FAILED_CONNECT: &str = "failed_connect";

/// Every status this module reports.
pub const STATUSES: [&str; 10] = [
    REFUSED_BUDGET,
    REFUSED_TOOL,
    REFUSED_LIMIT,
    REFUSED_POLICY,
    REFUSED_STOPPED,
    BLOCKED_PII,
    BREAKER_OPEN,
    FAILED_UPSTREAM,
    FAILED_TIMEOUT,
    FAILED_CONNECT,
];

/// The event kinds an [`Outcome`] or a breaker transition is read from.
pub const EVENT_KINDS: &[&str] = &[
    "llm_refused",
    "llm_error",
    "breaker_state",
    "tool_call",
    "unauthorized_action",
];

/// The longest reason reported (characters).
pub const MAX_REASON: usize = 200;

/// Distinct (model, status) pairs held before the collapser asks to be drained.
pub const MAX_KEYS: usize = 256;

/// One refused or failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The model the call named.
    pub model: String,
    /// Who would have served it (empty: unknown).
    pub provider: String,
    /// One of [`STATUSES`].
    pub status: &'static str,
    /// Why, in a few words (the runtime's own message: never a prompt, a value or a key).
    pub reason: String,
    /// For an open breaker, what the call would have cost at most.
    pub avoided: Money,
}

pub(crate) fn short(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The outcome an `llm_refused` or `llm_error` event describes; `None` for
/// other events and for refusals that are not about the call's governance (a
/// malformed request, an unknown model) or that name no model.
#[must_use]
pub fn classify(event: &Value) -> Option<Outcome> {
    if let Some(tool) = refused_tool(event) {
        return Some(tool);
    }
    let model = event["model"].as_str().filter(|m| !m.is_empty())?;
    let provider = event["provider"].as_str().unwrap_or_default().to_owned();
    let (status, reason) = match event["type"].as_str()? {
        "llm_refused" => {
            let message = event["message"].as_str().unwrap_or_default();
            let status = match event["code"].as_str()? {
                "budget_exceeded" if event["halted"] == true => REFUSED_STOPPED,
                "budget_exceeded" | "cost_unbounded" => REFUSED_BUDGET,
                "limit_exceeded" | "rate_limited" => REFUSED_LIMIT,
                "model_not_allowed" => REFUSED_POLICY,
                "pii_blocked" => BLOCKED_PII,
                "circuit_open" => BREAKER_OPEN,
                _ => return None,
            };
            (status, message.to_owned())
        }
        // A call that was sent and charged is reported with its record, not counted here.
        "llm_error" if event.get("charged_micros").is_some() => return None,
        "llm_error" => match event["status"].as_u64() {
            Some(code) => (FAILED_UPSTREAM, format!("the upstream answered {code}")),
            None => failure_status(event["error"].as_str().unwrap_or("transport error"), false),
        },
        _ => return None,
    };
    let avoided = event["avoided_micros"]
        .as_u64()
        .map_or(Money::ZERO, Money::from_micros);
    Some(Outcome {
        model: model.to_owned(),
        provider,
        status,
        reason: short(&reason),
        avoided,
    })
}

/// The status and reason of a call the transport failed: [`FAILED_TIMEOUT`] when
/// `error` (the transport's error or its type name) speaks of a timeout, else
/// [`FAILED_CONNECT`]; `sent` says whether the request had gone out.
#[must_use]
pub fn failure_status(error: &str, sent: bool) -> (&'static str, String) {
    let lower = error.to_ascii_lowercase();
    if lower.contains("timeout") || lower.contains("timed out") {
        (FAILED_TIMEOUT, format!("no answer in time ({error})"))
    } else if sent {
        (
            FAILED_CONNECT,
            format!("the connection broke before the answer ({error})"),
        )
    } else {
        (
            FAILED_CONNECT,
            format!("the upstream was not reached ({error})"),
        )
    }
}

/// A tool refusal of the library runtime's tool rules: every `tool_not_allowed`
/// is one `unauthorized_action` event (a run, a request offering it, a reply
/// asking for it); a limit or an open tool breaker is a refused `tool_call`
/// with its code (a refused run's `tool_call` without a code is the
/// `unauthorized_action` already counted).
fn refused_tool(event: &Value) -> Option<Outcome> {
    let code = match event["type"].as_str()? {
        "unauthorized_action" => event["kind"]
            .as_str()
            .filter(|k| *k == "tool_not_allowed")?,
        "tool_call" if event["outcome"] == "refused" => event["error"]
            .as_str()
            .filter(|c| !c.is_empty() && *c != "tool_not_allowed")?,
        _ => return None,
    };
    let tool = event["tool"].as_str().filter(|t| !t.is_empty())?;
    let what = match code {
        "tool_not_allowed" => "is not allowed for this agent",
        "tool_limit" => "is over its limit in this runtime",
        "circuit_open" => "has its circuit breaker open",
        _ => "was refused",
    };
    Some(Outcome {
        model: short(&format!("tool:{tool}")),
        provider: String::new(),
        status: REFUSED_TOOL,
        reason: short(&format!("{code}: tool {tool:?} {what}")),
        avoided: Money::ZERO,
    })
}

/// A `breaker_state` event as the report's `events` entry (`provider:model`
/// breakers are named so): `None` for other events.
#[must_use]
pub fn transition(event: &Value, occurred_at: &str) -> Option<Value> {
    if event["type"] != "breaker_state" {
        return None;
    }
    let breaker = event["breaker"].as_str()?;
    let (provider, model) = breaker.split_once(':').unwrap_or(("", breaker));
    Some(json!({
        "kind": "breaker",
        "breaker": breaker,
        "provider": provider,
        "model": model,
        "from_state": event["from"],
        "to_state": event["to"],
        "failures": event["failures"].as_u64().unwrap_or(0),
        "occurred_at": occurred_at,
    }))
}

/// Identical outcomes seen since the last drain, counted once each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collapsed {
    /// The outcome (its reason the latest one seen).
    pub outcome: Outcome,
    /// How many calls it stands for (at least 1).
    pub count: u64,
    /// The sum of what they would have cost (open breaker only).
    pub avoided: Money,
    /// When the first of them happened (RFC 3339).
    pub first_at: String,
}

/// Counts outcomes per (model, status) until drained.
#[derive(Debug, Default)]
pub struct Collapser {
    entries: HashMap<(String, &'static str), Collapsed>,
    order: Vec<(String, &'static str)>,
}

impl Collapser {
    /// Counts `outcome` (at `at`); true when the collapser holds [`MAX_KEYS`]
    /// pairs and should be drained now.
    pub fn add(&mut self, outcome: Outcome, at: &str) -> bool {
        let key = (outcome.model.clone(), outcome.status);
        if let Some(e) = self.entries.get_mut(&key) {
            e.count = e.count.saturating_add(1);
            e.avoided = e.avoided.checked_add(outcome.avoided).unwrap_or(Money::MAX);
            e.outcome.reason = outcome.reason;
        } else {
            self.order.push(key.clone());
            self.entries.insert(
                key,
                Collapsed {
                    avoided: outcome.avoided,
                    outcome,
                    count: 1,
                    first_at: at.to_owned(),
                },
            );
        }
        self.entries.len() >= MAX_KEYS
    }

    /// Everything counted, in the order first seen; the collapser is empty afterwards.
    pub fn drain(&mut self) -> Vec<Collapsed> {
        let mut out = Vec::with_capacity(self.order.len());
        for key in self.order.drain(..) {
            if let Some(e) = self.entries.remove(&key) {
                out.push(e);
            }
        }
        out
    }

    /// True when nothing is counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str, model: &str) -> Value {
        json!({"type": "llm_refused", "model": model, "code": code, "status": 402, "message": format!("{code} for {model}")})
    }

    #[test]
    fn classifies_refusals_and_failures() {
        let s = |e: &Value| classify(e).map(|o| o.status);
        assert_eq!(s(&refused("budget_exceeded", "m")), Some(REFUSED_BUDGET));
        assert_eq!(s(&refused("cost_unbounded", "m")), Some(REFUSED_BUDGET));
        assert_eq!(s(&refused("limit_exceeded", "m")), Some(REFUSED_LIMIT));
        assert_eq!(s(&refused("rate_limited", "m")), Some(REFUSED_LIMIT));
        assert_eq!(s(&refused("model_not_allowed", "m")), Some(REFUSED_POLICY));
        assert_eq!(s(&refused("pii_blocked", "m")), Some(BLOCKED_PII));
        assert_eq!(s(&refused("circuit_open", "m")), Some(BREAKER_OPEN));
        let mut halted = refused("budget_exceeded", "m");
        halted["halted"] = json!(true);
        assert_eq!(s(&halted), Some(REFUSED_STOPPED));
        // Not governance: a malformed request, an unknown model, no model at all.
        assert_eq!(s(&refused("invalid_request", "m")), None);
        assert_eq!(s(&refused("unknown_model", "m")), None);
        assert_eq!(
            s(&json!({"type": "llm_refused", "model": null, "code": "budget_exceeded"})),
            None
        );
        assert_eq!(s(&json!({"type": "llm_call", "model": "m"})), None);

        let up = classify(
            &json!({"type": "llm_error", "model": "m", "provider": "openai", "status": 503}),
        )
        .expect("an outcome");
        assert_eq!(
            (up.status, up.reason.as_str(), up.provider.as_str()),
            (FAILED_UPSTREAM, "the upstream answered 503", "openai")
        );
        assert_eq!(
            s(&json!({"type": "llm_error", "model": "m", "error": "timeout"})),
            Some(FAILED_TIMEOUT)
        );
        assert_eq!(
            s(&json!({"type": "llm_error", "model": "m", "error": "ReadTimeout"})),
            Some(FAILED_TIMEOUT)
        );
        assert_eq!(
            s(&json!({"type": "llm_error", "model": "m", "error": "ConnectError"})),
            Some(FAILED_CONNECT)
        );
        // A call sent and charged is reported with its own record, not counted here.
        assert_eq!(
            s(
                &json!({"type": "llm_error", "model": "m", "error": "ReadTimeout", "charged_micros": 5})
            ),
            None
        );
        assert_eq!(failure_status("ReadError", true).0, FAILED_CONNECT);
        assert!(failure_status("ReadError", true)
            .1
            .contains("broke before the answer"));
        assert!(failure_status("ConnectError", false)
            .1
            .contains("not reached"));

        let mut open = refused("circuit_open", "m");
        open["avoided_micros"] = json!(1234);
        assert_eq!(
            classify(&open).expect("an outcome").avoided,
            Money::from_micros(1234)
        );
    }

    #[test]
    fn tool_refusals_count_once_each() {
        let s = |e: Value| classify(&e).map(|o| (o.status, o.model, o.reason));
        assert_eq!(
            s(json!({"type": "unauthorized_action", "kind": "tool_not_allowed", "tool": "shell"})),
            Some((
                REFUSED_TOOL,
                "tool:shell".into(),
                "tool_not_allowed: tool \"shell\" is not allowed for this agent".into()
            ))
        );
        // A refused run of a disallowed tool also has a tool_call: counted by its unauthorized_action.
        assert_eq!(
            s(json!({"type": "tool_call", "tool": "shell", "outcome": "refused"})),
            None
        );
        assert_eq!(
            s(
                json!({"type": "tool_call", "tool": "shell", "outcome": "refused", "error": "tool_not_allowed"})
            ),
            None
        );
        let limit = s(
            json!({"type": "tool_call", "tool": "search", "outcome": "refused", "error": "tool_limit"}),
        );
        assert_eq!(
            limit.map(|o| (o.0, o.1)),
            Some((REFUSED_TOOL, "tool:search".to_string()))
        );
        assert!(s(json!({"type": "tool_call", "tool": "search", "outcome": "refused", "error": "circuit_open"})).is_some());
        assert_eq!(
            s(json!({"type": "tool_call", "tool": "search", "outcome": "ok"})),
            None
        );
        assert_eq!(
            s(
                json!({"type": "tool_call", "tool": "search", "outcome": "error", "error": "ValueError"})
            ),
            None
        );
        assert_eq!(
            s(json!({"type": "unauthorized_action", "kind": "model_not_allowed", "tool": "x"})),
            None
        );
    }

    #[test]
    fn reasons_are_short() {
        let long = "x".repeat(5000);
        let o = classify(&json!({"type": "llm_refused", "model": "m", "code": "budget_exceeded", "message": long}))
            .expect("an outcome");
        assert_eq!(o.reason.chars().count(), MAX_REASON + 1);
        let multibyte = "é".repeat(300);
        let o = classify(&json!({"type": "llm_refused", "model": "m", "code": "budget_exceeded", "message": multibyte}))
            .expect("an outcome");
        assert!(o.reason.starts_with('é') && o.reason.ends_with('…'));
    }

    #[test]
    fn a_retry_storm_collapses_to_one_record_per_model_and_status() {
        let mut c = Collapser::default();
        let mut open = refused("circuit_open", "gpt-4o");
        open["avoided_micros"] = json!(10);
        for i in 0..10_000 {
            assert!(!c.add(classify(&open).expect("an outcome"), &format!("t{i}")));
            assert!(!c.add(
                classify(&refused("budget_exceeded", "gpt-4o")).expect("an outcome"),
                "t"
            ));
        }
        c.add(
            classify(&refused("budget_exceeded", "gpt-4o-mini")).expect("an outcome"),
            "u",
        );
        let out = c.drain();
        assert!(c.is_empty());
        assert_eq!(out.len(), 3);
        assert_eq!(
            (out[0].outcome.status, out[0].count),
            (BREAKER_OPEN, 10_000)
        );
        assert_eq!(out[0].avoided, Money::from_micros(100_000));
        assert_eq!(out[0].first_at, "t0");
        assert_eq!(
            (out[1].outcome.status, out[1].count, out[1].avoided),
            (REFUSED_BUDGET, 10_000, Money::ZERO)
        );
        assert_eq!(
            (out[2].outcome.model.as_str(), out[2].count),
            ("gpt-4o-mini", 1)
        );
        assert!(c.drain().is_empty());
    }

    #[test]
    fn asks_to_be_drained_when_full() {
        let mut c = Collapser::default();
        let full = (0..MAX_KEYS)
            .map(|i| {
                c.add(
                    classify(&refused("budget_exceeded", &format!("m{i}"))).expect("an outcome"),
                    "t",
                )
            })
            .collect::<Vec<_>>();
        assert!(!full[MAX_KEYS - 2] && full[MAX_KEYS - 1]);
        assert_eq!(c.drain().len(), MAX_KEYS);
    }

    #[test]
    fn breaker_transitions_name_the_model() {
        let e = json!({"type": "breaker_state", "breaker": "openai:gpt-4o", "from": "closed", "to": "open", "failures": 5});
        let t = transition(&e, "2026-01-01T00:00:00Z").expect("a transition");
        assert_eq!(t["model"], "gpt-4o");
        assert_eq!(t["failures"], 5);
        assert_eq!(t["provider"], "openai");
        assert_eq!(
            (t["from_state"].as_str(), t["to_state"].as_str()),
            (Some("closed"), Some("open"))
        );
        assert!(transition(&refused("circuit_open", "m"), "t").is_none());
    }
}
