//! The policy pipeline shared by router mode and library mode:
//! parse → estimate → reserve → breaker → (the caller forwards) → usage →
//! commit → PII scan → events.
//!
//! It is synchronous and transport-free: the router drives it from hyper, the
//! Python layer from a wrapped HTTP transport.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use iron_cost::{
    Ledger, LedgerEvent, ModelPrice, Money, PriceTable, Provider, SharedReservation, Tokenizer,
    Usage,
};
use iron_llm::request::PlanError;
use iron_llm::{ApiFormat, Estimate, LlmError, ParsedRequest};
use iron_reliability::{
    classify_status, parse_retry_after, BreakerConfig, BreakerRegistry, CircuitBreaker, Clock,
    Permit, ReliabilityError, StatusClass,
};
use iron_safety::{Finding, Mode, Scanner};
use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use crate::egress::{apply_to_str, apply_to_text, Action, Applied, PiiPolicy, Pseudonyms};
use crate::error::PipelineError;
use crate::events::EventBus;
use crate::limits::{Limiter, RequestLimits};
use crate::record::CallRecord;
use crate::stream_guard::StreamGuard;

/// A budget large enough to mean "no limit" without overflowing sums ($1 billion).
pub const UNLIMITED: Money = Money::from_micros(1_000_000_000_000_000);

/// Pipeline settings.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Spending limit (`None`: unlimited, still tracked).
    pub budget: Option<Money>,
    /// Thresholds in ppm of the limit that fire `budget_threshold` events (default 90%).
    pub thresholds_ppm: Option<Vec<u64>>,
    /// PII scanner for replies (`None`: no scan).
    pub scanner: Option<Arc<Scanner>>,
    /// Breaker per provider and model (`None`: no breaker).
    pub breaker: Option<BreakerConfig>,
    /// Price table (`None`: the process-wide active table).
    pub prices: Option<Arc<PriceTable>>,
    /// A stated amount reserved for a request whose cost has no bound
    /// (server-side tools, input kinds iron-cage cannot price). `None`: under
    /// a limit such requests are refused.
    pub unbounded_reserve: Option<Money>,
    /// The PII policy for what requests send (`None`: requests are not scanned).
    pub egress: Option<PiiPolicy>,
    /// The scanner for requests (`None`: the reply scanner's rules); it finds
    /// in replies too when there is no reply scanner and a reply policy names
    /// an entity.
    pub egress_scanner: Option<Arc<Scanner>>,
    /// The PII policy for replies (`None`: the reply scanner's mode for every entity).
    pub ingress: Option<PiiPolicy>,
}

/// Counters kept by the pipeline.
#[derive(Debug, Default)]
pub struct Stats {
    calls: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    pii_findings: AtomicU64,
    by_model: Mutex<std::collections::BTreeMap<String, (u64, u64)>>,
}

/// What begin needs to know about a model, resolved once per pipeline.
#[derive(Debug)]
struct ModelInfo {
    price_name: String,
    price: ModelPrice,
    tokenizer: Tokenizer,
    breaker: Option<Arc<CircuitBreaker>>,
}

/// Models remembered per provider (at most this many each; more are resolved
/// on every call, so arbitrary model names cannot grow it without bound).
const MODEL_MEMO: usize = 256;

/// The shared pipeline.
#[derive(Debug)]
pub struct Pipeline {
    ledger: Arc<Ledger>,
    prices: Arc<PriceTable>,
    /// Resolved models by provider (OpenAI, Anthropic) and model name.
    models: [RwLock<FxHashMap<String, Arc<ModelInfo>>>; 2],
    breakers: Option<BreakerRegistry>,
    scanner: Option<Arc<Scanner>>,
    events: EventBus,
    stats: Stats,
    limiter: Limiter,
    unbounded_reserve: Option<Money>,
    /// The request policy in force (the agent's own, at least the Control
    /// Panel's); `None`: requests are not scanned.
    egress: RwLock<Option<Arc<PiiPolicy>>>,
    /// The agent's own request policy (`None`: its requests are not scanned).
    egress_own: Option<PiiPolicy>,
    /// What finds PII in requests (`None`: nothing can, whatever the policy).
    egress_scanner: Option<Arc<Scanner>>,
    /// The reply policy in force (the agent's own, at least the Control
    /// Panel's); `None`: replies are not scanned.
    ingress: RwLock<Option<Arc<PiiPolicy>>>,
    /// The agent's own reply policy.
    ingress_own: Option<PiiPolicy>,
    /// The placeholders of pseudonymized values, restored in replies.
    pseudonyms: Arc<Pseudonyms>,
    /// Our threshold subscription on the ledger (which may outlive us when shared).
    ledger_subscription: u64,
    /// Why nothing is admitted at all (the agent was stopped in the Control Panel):
    /// every call is refused with this message.
    halt: RwLock<Option<Arc<str>>>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.ledger.unsubscribe(self.ledger_subscription);
    }
}

impl Pipeline {
    /// Builds a pipeline with its own ledger.
    ///
    /// # Errors
    /// An invalid breaker configuration, or an unusable `IRON_CAGE_PRICES` file.
    pub fn new(config: PipelineConfig) -> Result<Arc<Self>, PipelineError> {
        let thresholds = config
            .thresholds_ppm
            .clone()
            .unwrap_or_else(|| vec![900_000]);
        let ledger = Ledger::new("router", config.budget.unwrap_or(UNLIMITED), &thresholds);
        Self::with_ledger(config, ledger)
    }

    /// Builds a pipeline that spends from `ledger`.
    ///
    /// # Errors
    /// As [`Pipeline::new`].
    pub fn with_ledger(
        config: PipelineConfig,
        ledger: Arc<Ledger>,
    ) -> Result<Arc<Self>, PipelineError> {
        let prices = match config.prices {
            Some(p) => p,
            None => {
                iron_cost::active_prices().map_err(|e| PipelineError::BadRequest(e.to_string()))?
            }
        };
        let breakers = match config.breaker {
            Some(c) => Some(
                BreakerRegistry::new(c, Clock::monotonic())
                    .map_err(|e| PipelineError::BadRequest(e.to_string()))?,
            ),
            None => None,
        };
        let events = EventBus::new();
        let bus = events.clone();
        let ledger_subscription = ledger.subscribe(move |e| {
            let LedgerEvent::ThresholdCrossed { ledger, threshold_ppm, spent, limit } = e;
            #[allow(clippy::cast_precision_loss)]
            let fraction = *threshold_ppm as f64 / 1e6;
            bus.emit(
                "budget_threshold",
                json!({"ledger": ledger, "threshold": fraction, "spent_usd": spent.to_usd_f64(), "limit_usd": limit.to_usd_f64()}),
            );
        });
        if let Some(reg) = &breakers {
            let bus = events.clone();
            reg.subscribe(move |c| {
                bus.emit(
                    "breaker_state",
                    json!({"breaker": c.breaker, "from": c.from.as_str(), "to": c.to.as_str(), "failures": c.failures}),
                );
            });
        }
        let egress_scanner = config.egress_scanner.or_else(|| config.scanner.clone());
        let egress_own = config.egress.filter(|p| !p.is_off());
        let egress = egress_own
            .clone()
            .filter(|_| egress_scanner.is_some())
            .map(Arc::new);
        let ingress_own = match (config.ingress, &config.scanner) {
            (Some(p), _) => Some(p),
            (None, Some(s)) => Some(PiiPolicy::uniform(PiiPolicy::action_of_mode(s.mode()))),
            (None, None) => None,
        }
        .filter(|p| !p.is_off());
        let ingress = ingress_own
            .clone()
            .filter(|_| config.scanner.is_some() || egress_scanner.is_some())
            .map(Arc::new);
        Ok(Arc::new(Pipeline {
            egress: RwLock::new(egress),
            egress_own,
            egress_scanner,
            ingress: RwLock::new(ingress),
            ingress_own,
            pseudonyms: Arc::default(),
            ledger,
            prices,
            models: Default::default(),
            breakers,
            scanner: config.scanner,
            events,
            stats: Stats::default(),
            limiter: Limiter::default(),
            unbounded_reserve: config.unbounded_reserve,
            ledger_subscription,
            halt: RwLock::new(None),
        }))
    }

    /// The per-request limits in force.
    #[must_use]
    pub fn limits(&self) -> RequestLimits {
        self.limiter.get()
    }

    /// Replaces the per-request limits (the lease client does, from the Control Panel).
    pub fn set_limits(&self, limits: RequestLimits) {
        self.limiter.set(limits);
    }

    /// Replaces which models and providers calls may use.
    pub fn set_model_policy(&self, policy: crate::limits::ModelPolicy) {
        self.limiter.set_policy(policy);
    }

    /// Sets the Control Panel's PII policies for requests and replies (`None`:
    /// none): per entity the stricter of each and the agent's own applies from
    /// the next call.
    ///
    /// # Errors
    /// A policy this pipeline cannot apply: it was built without a scanner
    /// (neither replies nor requests scanned).
    pub fn set_pii_floor(
        &self,
        egress: Option<&PiiPolicy>,
        ingress: Option<&PiiPolicy>,
    ) -> Result<(), String> {
        let merge = |floor: Option<&PiiPolicy>, own: &Option<PiiPolicy>| {
            match (floor, own) {
                (None, own) => own.clone(),
                (Some(f), None) => Some(PiiPolicy::allow_all().at_least(f)),
                (Some(f), Some(own)) => Some(own.at_least(f)),
            }
            .filter(|p| !p.is_off())
        };
        let egress = merge(egress, &self.egress_own);
        let ingress = merge(ingress, &self.ingress_own);
        if (egress.is_some() || ingress.is_some())
            && self.egress_scanner.is_none()
            && self.scanner.is_none()
        {
            return Err(
                "the Control Panel's PII policy cannot be applied: this runtime has no PII scanner"
                    .into(),
            );
        }
        *self.egress.write().unwrap_or_else(PoisonError::into_inner) = egress.map(Arc::new);
        *self.ingress.write().unwrap_or_else(PoisonError::into_inner) = ingress.map(Arc::new);
        Ok(())
    }

    /// The reply policy in force and the scanner that finds for it (`None`:
    /// replies are not scanned).
    #[must_use]
    pub fn ingress_policy(&self) -> Option<(Arc<PiiPolicy>, Arc<Scanner>)> {
        let policy = self
            .ingress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let scanner = self.scanner.as_ref().or(self.egress_scanner.as_ref())?;
        Some((policy, Arc::clone(scanner)))
    }

    /// The request policy in force (`None`: requests are not scanned).
    #[must_use]
    pub fn egress_policy(&self) -> Option<Arc<PiiPolicy>> {
        self.egress
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The ledger every call reserves from.
    #[must_use]
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The event bus.
    #[must_use]
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The breakers, when enabled.
    #[must_use]
    pub fn breakers(&self) -> Option<&BreakerRegistry> {
        self.breakers.as_ref()
    }

    /// The PII scanner, when enabled.
    #[must_use]
    pub fn scanner(&self) -> Option<&Arc<Scanner>> {
        self.scanner.as_ref()
    }

    /// Counters as JSON: calls, refused, failed, tokens, PII findings, cost and calls by model.
    #[must_use]
    pub fn metrics(&self) -> Value {
        let s = &self.stats;
        let by_model: serde_json::Map<String, Value> = s
            .by_model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(m, (calls, micros))| {
                (
                    m.clone(),
                    json!({"calls": calls, "cost_usd": Money::from_micros(*micros).to_usd_f64()}),
                )
            })
            .collect();
        let breakers: serde_json::Map<String, Value> = self
            .breakers
            .as_ref()
            .map(|reg| {
                reg.keys()
                    .into_iter()
                    .map(|k| {
                        let state = reg.get(&k).state().as_str();
                        (k, json!(state))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let snap = self.ledger.snapshot();
        json!({
            "breakers": breakers,
            "calls": s.calls.load(Ordering::Relaxed),
            "refused": s.refused.load(Ordering::Relaxed),
            "failed": s.failed.load(Ordering::Relaxed),
            "input_tokens": s.input_tokens.load(Ordering::Relaxed),
            "output_tokens": s.output_tokens.load(Ordering::Relaxed),
            "pii_findings": s.pii_findings.load(Ordering::Relaxed),
            "spent_usd": snap.spent.to_usd_f64(),
            "reserved_usd": snap.reserved.to_usd_f64(),
            "limit_usd": snap.limit.to_usd_f64(),
            "by_model": by_model,
        })
    }

    /// Refuses a request to an endpoint the provider bills but iron-cage
    /// cannot price, when a limit is set (library mode sends every other
    /// ungoverned request as it is; the router serves only the priced ones).
    ///
    /// # Errors
    /// [`PipelineError::Unbounded`] for such an endpoint under a limit.
    pub fn check_ungoverned(&self, path: &str) -> Result<(), PipelineError> {
        if ApiFormat::is_unpriced_billable(path) && self.ledger.limit() < UNLIMITED {
            return Err(self.refuse(
                None,
                PipelineError::Unbounded {
                    message: format!(
                        "POST {path} is billed by the provider but iron-cage cannot price it, so under a hard budget it is not sent; make the call outside the runtime, or in a runtime without a limit"
                    ),
                    refusal: self.refusal(Money::ZERO),
                },
            ));
        }
        Ok(())
    }

    /// Refuses every call with `reason` (the agent was stopped), or admits again with `None`.
    pub fn set_halt(&self, reason: Option<&str>) {
        *self.halt.write().unwrap_or_else(PoisonError::into_inner) = reason.map(Arc::from);
    }

    /// Parses, prices and admits a call. On success the worst case is reserved
    /// and a breaker permit is held until the call is finished.
    ///
    /// # Errors
    /// Bad body, unknown model, not enough budget, or an open breaker; nothing
    /// is reserved then.
    pub fn begin(self: &Arc<Self>, format: ApiFormat, body: &[u8]) -> Result<Call, PipelineError> {
        let started = Instant::now();
        let mut parsed =
            ParsedRequest::parse(format, body).map_err(|e| self.refuse(None, llm_error(e)))?;
        let mut egress_findings = Vec::new();
        if let (Some(policy), Some(scanner)) = (self.egress_policy(), &self.egress_scanner) {
            (parsed, egress_findings) = self.apply_egress(parsed, &policy, scanner)?;
        }
        // One breaker per upstream model, however it is called (Claude via chat completions too).
        let provider = if iron_llm::translate::is_claude(&parsed.model) {
            Provider::Anthropic
        } else {
            format.provider()
        };
        let model = self
            .model_info(provider, &parsed.model)
            .map_err(|e| self.refuse(Some(&parsed.model), e))?;
        let (price_name, price) = (&model.price_name, &model.price);
        let halt = self
            .halt
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(reason) = halt {
            return Err(self.refuse_with(
                Some(&parsed.model),
                PipelineError::BudgetExceeded {
                    message: reason.to_string(),
                    refusal: self.refusal(Money::ZERO),
                },
                &[("halted", json!(true))],
            ));
        }
        self.limiter
            .check_model(&parsed.model, price_name, provider.as_str())
            .map_err(|e| self.refuse(Some(&parsed.model), e))?;
        // Without a limit nothing can be overspent: unbounded requests pass (and are charged).
        parsed.set_unbounded_reserve(if self.ledger.limit() >= UNLIMITED {
            Some(self.unbounded_reserve.unwrap_or(Money::ZERO))
        } else {
            self.unbounded_reserve
        });
        // With room to spare and no per-request limit to compare against, reserve on
        // the input's byte bound and skip tokenizing (the commit uses the provider's
        // usage anyway); otherwise count exactly.
        let mut bounded = !self.limiter.limits_requests();
        let mut attempt = 0;
        let (estimate, reservation) = loop {
            let available = self.ledger.available();
            if bounded {
                if let Some(estimate) = parsed.plan_bounded(price_name, price, available) {
                    match self.ledger.reserve_shared(estimate.cost) {
                        Ok(r) => break (estimate, r),
                        Err(_) => bounded = false,
                    }
                    continue;
                }
                bounded = false;
            }
            let estimate = parsed.plan_priced(price_name, price, available).map_err(|e| {
                let err = match e {
                    PlanError::Budget { needed, .. } => PipelineError::BudgetExceeded {
                        message: format!(
                            "{e}; budget {} spent of {}. Raise the budget or wait for running calls to finish.{}",
                            self.ledger.spent(),
                            self.ledger.limit(),
                            parsed.inputs.pulls_context.as_ref().map_or(String::new(), |field| format!(
                                " The call reserves the model's whole context window because {field} adds context of unknown size; send that context in the request instead to reserve only what it holds."
                            ))
                        ),
                        refusal: self.refusal(needed),
                    },
                    PlanError::Unbounded { .. } => PipelineError::Unbounded {
                        message: e.to_string(),
                        refusal: self.refusal(Money::ZERO),
                    },
                    PlanError::Llm(l) => llm_error(l),
                };
                self.refuse(Some(&parsed.model), err)
            })?;
            match self.ledger.reserve_shared(estimate.cost) {
                Ok(r) => break (estimate, r),
                // Another call took the room between plan and reserve: plan again.
                Err(_) if attempt < 3 => attempt += 1,
                Err(e) => {
                    return Err(self.refuse(
                        Some(&parsed.model),
                        PipelineError::BudgetExceeded {
                            message: e.to_string(),
                            refusal: self.refusal(estimate.cost),
                        },
                    ));
                }
            }
        };
        if let Err(mut e) = self.limiter.check(&estimate) {
            drop(reservation);
            if let PipelineError::LimitExceeded { refusal, .. } = &mut e {
                let limit = refusal.limit;
                *refusal = self.refusal(estimate.cost);
                refusal.limit = limit;
            }
            return Err(self.refuse(Some(&parsed.model), e));
        }
        let permit = match &model.breaker {
            Some(breaker) => match breaker.admit(estimate.cost.micros()) {
                Ok(p) => Some(p),
                Err(ReliabilityError::CircuitOpen {
                    breaker,
                    state,
                    retry_after_s,
                }) => {
                    drop(reservation);
                    // What the call would have cost at most: what the open breaker saved.
                    let avoided = estimate.cost;
                    return Err(self.refuse_with(
                        Some(&parsed.model),
                        PipelineError::CircuitOpen {
                            message: format!("circuit breaker {breaker:?} is {state}: the upstream was not called; retry after {retry_after_s:.1}s"),
                            breaker,
                            state,
                            retry_after_s,
                        },
                        &[
                            ("avoided_micros", json!(avoided.micros())),
                            ("provider", json!(model.price.provider.as_str())),
                        ],
                    ));
                }
                Err(e) => return Err(PipelineError::BadRequest(e.to_string())),
            },
            None => None,
        };
        parsed.ensure_stream_usage();
        Ok(Call {
            pipeline: Arc::clone(self),
            model,
            parsed,
            estimate,
            reservation,
            permit,
            started,
            egress_findings,
        })
    }

    /// Applies the request policy: the request as it will be sent (placeholders
    /// and redactions in, counted again) and the findings it acted on.
    fn apply_egress(
        &self,
        parsed: ParsedRequest,
        policy: &PiiPolicy,
        scanner: &Scanner,
    ) -> Result<(ParsedRequest, Vec<(Finding, Action)>), PipelineError> {
        let names = &self.pseudonyms;
        let mut applied = Applied::default();
        // The texts are found in the raw body and scanned there (decoded when escaped);
        // a changed one is spliced in. A body the reader does not take goes through the tree.
        let mut spliced: Option<Vec<u8>> = None;
        let mut parsed = parsed;
        if let Some(spans) = parsed.sent_text_spans() {
            let raw = parsed.raw();
            let text_of = |start: usize, end: usize| std::str::from_utf8(&raw[start..end]).ok();
            let mut out = Vec::new();
            let mut last = 0;
            for span in spans {
                let decoded;
                let text = if span.plain {
                    text_of(span.start, span.end).unwrap_or_default()
                } else {
                    decoded = text_of(span.start - 1, span.end + 1)
                        .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
                        .unwrap_or_default();
                    &decoded
                };
                if let Some(sent) = apply_to_str(text, scanner, policy, names, &mut applied) {
                    out.extend_from_slice(&raw[last..span.start - 1]);
                    serde_json::to_writer(&mut out, &sent).map_err(|e| {
                        PipelineError::BadRequest(format!("the request cannot be rewritten: {e}"))
                    })?;
                    last = span.end + 1;
                }
            }
            if applied.changed {
                out.extend_from_slice(&raw[last..]);
                spliced = Some(out);
            }
        } else {
            parsed.rewrite_sent_text(&mut |text| {
                apply_to_text(text, scanner, policy, names, &mut applied)
            });
        }
        let listening = self.events.is_active();
        for (f, action) in applied.findings.iter().filter(|_| listening) {
            self.events.emit(
                "pii_detected",
                json!({"model": parsed.model, "direction": "egress", "entity": f.entity,
                       "severity": f.severity.as_str(), "value_hmac": f.value_hmac, "action": action.as_str()}),
            );
        }
        if applied.blocked().is_some() {
            let mut kinds: Vec<&str> = applied
                .findings
                .iter()
                .filter(|(_, a)| *a == Action::Block)
                .map(|(f, _)| f.entity.as_str())
                .collect();
            kinds.sort_unstable();
            kinds.dedup();
            let message = format!(
                "the request contains {} and the PII policy for requests blocks it: nothing was sent or charged. Remove it from the prompt (a credential in a prompt is almost always a leak), or set the policy for that entity to redact or pseudonymize",
                kinds.join(", ")
            );
            let findings = applied
                .findings
                .into_iter()
                .filter(|(_, a)| *a == Action::Block)
                .map(|(f, _)| f)
                .collect();
            return Err(self.refuse(
                Some(&parsed.model),
                PipelineError::PiiBlocked { message, findings },
            ));
        }
        if !applied.changed {
            return Ok((parsed, applied.findings));
        }
        // Count and price what is sent, not what the agent wrote.
        let body = spliced.unwrap_or_else(|| parsed.to_bytes());
        let mut sent = ParsedRequest::parse(parsed.format, &body)
            .map_err(|e| self.refuse(Some(&parsed.model), llm_error(e)))?;
        sent.mark_rewritten();
        Ok((sent, applied.findings))
    }

    /// The placeholders of this pipeline (restored in replies).
    pub(crate) fn pseudonyms(&self) -> &Arc<Pseudonyms> {
        &self.pseudonyms
    }

    /// The price, tokenizer and breaker of `model` called at `provider`,
    /// remembered after the first call.
    fn model_info(&self, provider: Provider, model: &str) -> Result<Arc<ModelInfo>, PipelineError> {
        let memo = &self.models[usize::from(provider == Provider::Anthropic)];
        if let Some(info) = memo
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(model)
        {
            return Ok(Arc::clone(info));
        }
        let resolved = self
            .prices
            .lookup(model)
            .map_err(|e| llm_error(LlmError::from(e)))?;
        let info = Arc::new(ModelInfo {
            price_name: resolved.name.to_owned(),
            price: resolved.price.clone(),
            tokenizer: Tokenizer::for_model(model).unwrap_or(Tokenizer::O200kBase),
            breaker: self
                .breakers
                .as_ref()
                .map(|reg| reg.get(&format!("{}:{model}", provider.as_str()))),
        });
        let mut map = memo.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() < MODEL_MEMO {
            map.insert(model.to_owned(), Arc::clone(&info));
        }
        Ok(info)
    }

    /// The ledger's numbers for a refusal of a call that asked for `requested`.
    fn refusal(&self, requested: Money) -> Box<crate::error::Refusal> {
        crate::error::Refusal::of(self.ledger.name(), &self.ledger.snapshot(), requested)
    }

    fn refuse(&self, model: Option<&str>, err: PipelineError) -> PipelineError {
        self.refuse_with(model, err, &[])
    }

    /// [`Pipeline::refuse`] with more fields in the `llm_refused` event.
    fn refuse_with(
        &self,
        model: Option<&str>,
        err: PipelineError,
        extra: &[(&str, Value)],
    ) -> PipelineError {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        if self.events.is_active() {
            let mut event = json!({"model": model, "code": err.code(), "status": err.status(), "message": err.to_string()});
            if let Some(m) = event.as_object_mut() {
                for (k, v) in extra {
                    m.insert((*k).to_owned(), v.clone());
                }
            }
            self.events.emit("llm_refused", event);
        }
        err
    }

    fn record(&self, model: &str, usage: &Usage, cost: Money, findings: usize) {
        let s = &self.stats;
        s.calls.fetch_add(1, Ordering::Relaxed);
        s.input_tokens
            .fetch_add(usage.total_input(), Ordering::Relaxed);
        s.output_tokens.fetch_add(usage.output, Ordering::Relaxed);
        s.pii_findings.fetch_add(findings as u64, Ordering::Relaxed);
        let mut by = s
            .by_model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = by.get_mut(model) {
            e.0 += 1;
            e.1 += cost.micros();
        } else {
            by.insert(model.to_owned(), (1, cost.micros()));
        }
    }
}

fn llm_error(e: LlmError) -> PipelineError {
    match e {
        LlmError::BadRequest(m) => PipelineError::BadRequest(m),
        LlmError::Cost(c @ iron_cost::CostError::UnknownModel { .. }) => PipelineError::UnknownModel(format!(
            "{c}. Add it to a price override file named by IRON_CAGE_PRICES so its calls can be budgeted."
        )),
        LlmError::Cost(c) => PipelineError::BadRequest(c.to_string()),
    }
}

/// An admitted call: its reservation and breaker permit are held until it is
/// finished by [`Call::complete`], [`Call::fail`] or a [`StreamGuard`];
/// dropping it releases both (nothing charged, breaker unaffected).
#[derive(Debug)]
pub struct Call {
    pipeline: Arc<Pipeline>,
    model: Arc<ModelInfo>,
    parsed: ParsedRequest,
    estimate: Estimate,
    reservation: SharedReservation,
    permit: Option<Permit>,
    started: Instant,
    /// Findings the request policy acted on (sent as placeholders, redacted, or warned of).
    egress_findings: Vec<(Finding, Action)>,
}

/// What a finished call cost.
#[derive(Debug, Clone, Copy)]
pub struct Charge {
    /// The usage charged.
    pub usage: Usage,
    /// Its cost.
    pub cost: Money,
    /// Whether the provider reported the usage (false: estimated from what was emitted).
    pub exact: bool,
}

impl Call {
    /// The request.
    #[must_use]
    pub fn request(&self) -> &ParsedRequest {
        &self.parsed
    }

    /// The worst case reserved.
    #[must_use]
    pub fn estimate(&self) -> &Estimate {
        &self.estimate
    }

    /// Whether the reply will be a stream.
    #[must_use]
    pub fn is_stream(&self) -> bool {
        self.parsed.stream
    }

    /// The body to send upstream when iron-cage changed it; `None` to send the
    /// caller's bytes as they are (no re-serialising on the common path).
    #[must_use]
    pub fn modified_body(&self) -> Option<Vec<u8>> {
        (self.parsed.modified || self.parsed.rewritten).then(|| self.parsed.to_bytes())
    }

    /// Time since the call was admitted.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    pub(crate) fn tokenizer(&self) -> Tokenizer {
        self.model.tokenizer
    }

    /// The request never reached the upstream (connection refused, connect
    /// timeout, no route): a breaker failure; nothing is charged because nothing
    /// was sent.
    pub fn fail(self, reason: &str) {
        if let Some(p) = &self.permit {
            p.failure(None);
        }
        self.pipeline.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.pipeline.events.emit(
            "llm_error",
            json!({"model": self.parsed.model, "provider": self.model.price.provider.as_str(), "error": reason,
                   "latency_ms": ms(self.started.elapsed())}),
        );
        let _ = self.reservation.release();
    }

    /// The request was sent but no complete answer came (a read timeout, the
    /// connection broken after sending, the caller giving up): a breaker failure,
    /// and the worst case reserved is charged, because the provider may well have
    /// processed the request and billed it. The call is reported as
    /// `failed_timeout` or `failed_connect` with that cost, so the budget never
    /// counts less than the provider may bill.
    pub fn unanswered(self, reason: &str) -> Charge {
        if let Some(p) = &self.permit {
            p.failure(None);
        }
        let p = Arc::clone(&self.pipeline);
        p.stats.failed.fetch_add(1, Ordering::Relaxed);
        let usage = Usage {
            input: self.estimate.input_tokens,
            audio_input: self.parsed.inputs.audio_tokens,
            output: self.estimate.output_tokens,
            ..Usage::default()
        };
        let cost = self.estimate.cost;
        let _ = self.reservation.commit(cost);
        p.record(&self.parsed.model, &usage, cost, 0);
        let (status, why) = crate::refusals::failure_status(reason, true);
        p.events.emit(
            "llm_error",
            json!({"model": self.parsed.model, "provider": self.model.price.provider.as_str(), "error": reason,
                   "latency_ms": ms(self.started.elapsed()), "charged_micros": cost.micros()}),
        );
        self.emit_record(usage, cost, false, &[], 0, false, Some((status, &why)));
        Charge {
            usage,
            cost,
            exact: false,
        }
    }

    /// Finishes a non-streamed call with the upstream's status, `Retry-After`
    /// header and body. Error statuses pass through (the breaker learns from
    /// them; nothing is charged). A success is charged from its `usage` and its
    /// text scanned: redacted in place, or refused in block mode (still charged:
    /// the provider billed it). Returns the body to hand on when it changed
    /// (PII redacted), `None` to hand on `body` as it is.
    ///
    /// # Errors
    /// [`PipelineError::PiiBlocked`] in block mode when the reply has PII.
    pub fn complete(
        self,
        status: u16,
        retry_after: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, PipelineError> {
        if status >= 400 {
            self.upstream_error(status, retry_after);
            return Ok(None);
        }
        let format = self.parsed.format;
        // The common path: skim usage and texts without building a JSON tree; a
        // reply to rewrite (PII to redact) or of an unexpected shape takes the tree.
        if let Some(skimmed) = iron_llm::response::skim(format, body) {
            let reply = self.pipeline.ingress_policy();
            let mut findings = Vec::new();
            if let Some((policy, scanner)) = &reply {
                for text in &skimmed.texts {
                    findings.extend(
                        scanner
                            .find(text)
                            .into_iter()
                            .filter(|f| policy.reply_mode(&f.entity).is_some()),
                    );
                }
            }
            let mode_of = |f: &Finding| reply.as_ref().and_then(|(p, _)| p.reply_mode(&f.entity));
            // Placeholders this runtime sent may come back (in text or tool-call
            // arguments): restored in the raw body when that is exact, else in the tree.
            let names = &self.pipeline.pseudonyms;
            let restored = if names.is_empty() {
                Some(None)
            } else {
                names.restore_raw(body)
            };
            let redact = findings.iter().any(|f| mode_of(f) == Some(Mode::Redact));
            if let (false, Some(restored)) = (redact, restored) {
                let usage = iron_llm::response::skimmed_usage(format, &skimmed)
                    .ok()
                    .flatten();
                let (usage, exact) = match usage {
                    Some(u) => (u, true),
                    None => (self.estimated_usage(&skimmed.texts.concat()), false),
                };
                let blocked = findings.iter().any(|f| mode_of(f) == Some(Mode::Block));
                let policy = reply.as_ref().map(|(p, _)| &**p);
                self.settle(usage, exact, &findings, policy, status, blocked);
                return if blocked {
                    Err(pii_blocked(&findings))
                } else {
                    Ok(restored)
                };
            }
        }
        self.complete_tree(status, body)
    }

    /// [`Call::complete`] on a parsed JSON tree (or on a body that is not JSON).
    fn complete_tree(self, status: u16, body: &[u8]) -> Result<Option<Vec<u8>>, PipelineError> {
        let format = self.parsed.format;
        let mut value: Option<Value> = serde_json::from_slice(body).ok();
        let usage = value
            .as_ref()
            .and_then(|v| iron_llm::response::usage_of(format, v).ok().flatten());
        let (usage, exact) = match (usage, &value) {
            (Some(u), _) => (u, true),
            (None, Some(v)) => (
                self.estimated_usage(&iron_llm::response::text_of(format, v)),
                false,
            ),
            // Not JSON: nothing to count, so the worst case is charged.
            (None, None) => (
                Usage {
                    input: self.estimate.input_tokens,
                    audio_input: self.parsed.inputs.audio_tokens,
                    output: self.estimate.output_tokens,
                    ..Usage::default()
                },
                false,
            ),
        };
        let mut findings = Vec::new();
        let mut restored = false;
        let reply = self.pipeline.ingress_policy();
        let names = Arc::clone(&self.pipeline.pseudonyms);
        let mut blocked = false;
        let mut redacted = false;
        if let Some(v) = value
            .as_mut()
            .filter(|_| reply.is_some() || !names.is_empty())
        {
            iron_llm::response::for_each_text_mut(format, v, |text| {
                // Scanned as received (placeholders are not PII), then the agent's values put back.
                if let Some((policy, scanner)) = &reply {
                    let result = scanner.scan_as(text, &|e| policy.reply_mode(e));
                    blocked |= result.blocked;
                    if !result.blocked && result.text != *text {
                        *text = result.text;
                        redacted = true;
                    }
                    findings.extend(result.findings);
                }
                if let Some(back) = names.restore(text) {
                    *text = back;
                    restored = true;
                }
            });
            if !names.is_empty() {
                iron_llm::response::for_each_tool_call_mut(format, v, |args| {
                    restored |= names.restore_value(args);
                });
            }
        }
        let policy = reply.as_ref().map(|(p, _)| &**p);
        self.settle(usage, exact, &findings, policy, status, blocked);
        if blocked {
            return Err(pii_blocked(&findings));
        }
        let rewritten = restored || redacted;
        Ok(match value {
            Some(v) if rewritten => Some(serde_json::to_vec(&v).unwrap_or_default()),
            _ => None,
        })
    }

    /// Starts rewriting a streamed reply (call after a 2xx status).
    #[must_use]
    pub fn stream(self) -> StreamGuard {
        StreamGuard::new(self)
    }

    pub(crate) fn breaker_failure(&self) {
        if let Some(p) = &self.permit {
            p.failure(None);
        }
    }

    pub(crate) fn upstream_error(self, status: u16, retry_after: Option<&str>) {
        if let Some(p) = &self.permit {
            match classify_status(status) {
                StatusClass::Failure => {
                    p.failure(retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())));
                }
                // The service answered: a client error says nothing about its health.
                _ => {
                    p.release();
                }
            }
        }
        self.pipeline.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.pipeline.events.emit(
            "llm_error",
            json!({"model": self.parsed.model, "provider": self.model.price.provider.as_str(), "status": status,
                   "latency_ms": ms(self.started.elapsed())}),
        );
        let _ = self.reservation.release();
    }

    /// The input to charge when the provider reported none: the count, or the
    /// reserved bound when the provider adds context by reference.
    pub(crate) fn counted_input(&self) -> u64 {
        if self.parsed.inputs.pulls_context.is_some() {
            self.estimate.input_tokens
        } else {
            self.parsed.input_tokens()
        }
    }

    pub(crate) fn estimated_usage(&self, emitted: &str) -> Usage {
        Usage {
            input: self.counted_input(),
            audio_input: self.parsed.inputs.audio_tokens,
            output: u64::try_from(self.model.tokenizer.count_text(emitted)).unwrap_or(u64::MAX),
            ..Usage::default()
        }
    }

    /// Commits `usage`, reports the breaker outcome and emits the call's events.
    pub(crate) fn settle(
        self,
        usage: Usage,
        exact: bool,
        findings: &[Finding],
        policy: Option<&PiiPolicy>,
        status: u16,
        blocked: bool,
    ) -> Charge {
        let p = &self.pipeline;
        let cost = self
            .model
            .price
            .cost(&self.model.price_name, &usage, self.parsed.tier)
            // Priced at plan time, so this cannot fail; charge the reservation if it does.
            .unwrap_or(self.estimate.cost);
        let _ = self.reservation.commit(cost);
        if let Some(permit) = &self.permit {
            permit.success();
        }
        p.record(&self.parsed.model, &usage, cost, findings.len());
        let listening = p.events.is_active();
        for f in findings.iter().filter(|_| listening) {
            p.events.emit(
                "pii_detected",
                json!({"model": self.parsed.model, "entity": f.entity, "severity": f.severity.as_str(),
                       "start": f.start, "end": f.end, "value_hmac": f.value_hmac,
                       "action": if blocked { "blocked" } else { policy.and_then(|p| p.reply_mode(&f.entity)).map_or("warn", mode_name) }}),
            );
        }
        if listening {
            self.emit_record(usage, cost, exact, findings, status, blocked, None);
        }
        Charge { usage, cost, exact }
    }

    /// Emits the call's record (read by the lease client, the events file and listeners).
    #[allow(clippy::too_many_arguments)]
    fn emit_record(
        &self,
        usage: Usage,
        cost: Money,
        exact: bool,
        findings: &[Finding],
        status: u16,
        blocked: bool,
        failed: Option<(&'static str, &str)>,
    ) {
        let p = &self.pipeline;
        if !p.events.is_active() {
            return;
        }
        let snap = p.ledger.snapshot();
        p.events.emit_call(&CallRecord {
            model: self.parsed.model.clone(),
            format: self.parsed.format.as_str(),
            stream: self.parsed.stream,
            status,
            input_tokens: usage.total_input(),
            cached_input_tokens: usage.cached_input,
            output_tokens: usage.output,
            reasoning_tokens: usage.reasoning,
            audio_input_tokens: usage.audio_input,
            audio_output_tokens: usage.audio_output,
            provider: self.model.price.provider.as_str(),
            cost,
            reserved: self.estimate.cost,
            exact_usage: exact,
            latency_ms: ms(self.started.elapsed()),
            pii_findings: findings.len(),
            egress_findings: self.egress_findings.len(),
            findings: findings.to_vec(),
            egress: self
                .egress_findings
                .iter()
                .map(|(f, a)| (f.clone(), a.as_str()))
                .collect(),
            blocked,
            failed: failed.map(|(s, _)| s),
            reason: failed
                .map(|(_, r)| crate::refusals::short(r))
                .unwrap_or_default(),
            spent: snap.spent,
            limit: snap.limit,
        });
    }
}

pub(crate) fn pii_blocked(findings: &[Finding]) -> PipelineError {
    let mut kinds: Vec<&str> = findings.iter().map(|f| f.entity.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    PipelineError::PiiBlocked {
        message: format!(
            "the reply contained {} ({} finding(s)) and the safety mode is block: nothing was returned",
            kinds.join(", "),
            findings.len()
        ),
        findings: findings.to_vec(),
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Redact => "redacted",
        Mode::Block => "blocked",
        Mode::Warn => "warn",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
