//! A circuit breaker that never holds a lock while the protected call runs.
//!
//! `admit` decides, under a short lock, whether a call may go ahead and hands
//! out a [`Permit`]; the caller makes the call with no lock held and reports
//! the outcome on the permit. Each state change bumps a generation number, and
//! an outcome reported under an older generation is ignored, so a slow call
//! that started before the breaker tripped cannot close it again.
//!
//! CLOSED → OPEN after `n` consecutive failures, or (rate mode) when the
//! failure ratio of the last `window` calls reaches `ratio` with at least
//! `min_calls` recorded. OPEN lasts the cooldown (or a longer `Retry-After`
//! reported by the failure; optionally growing on repeated trips), then the
//! next caller turns it HALF_OPEN. HALF_OPEN admits at most
//! `half_open_max_calls` probes at once; everyone else fails fast. A probe's
//! slot is freed when it succeeds, fails, or is dropped unreported (a raised
//! or cancelled call). `success_threshold` probe successes close the breaker;
//! one probe failure opens it again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::error::ReliabilityError;

/// The three states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are rejected until the cooldown ends.
    Open,
    /// A bounded number of probe calls decide between closing and reopening.
    HalfOpen,
}

impl State {
    /// `closed`, `open` or `half_open`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    fn index(self) -> usize {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }
}

/// When a closed breaker trips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TripRule {
    /// After this many failures in a row.
    Consecutive(u32),
    /// When failures / calls over the last `window` calls reach `ratio`, once at
    /// least `min_calls` are recorded.
    Rate {
        /// Failure ratio in (0, 1].
        ratio: f64,
        /// Calls remembered.
        window: u32,
        /// Calls needed before the ratio counts.
        min_calls: u32,
    },
}

/// Breaker settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// When to trip.
    pub trip: TripRule,
    /// How long to stay open after the first trip.
    pub cooldown: Duration,
    /// Each further trip without a successful close multiplies the cooldown (1.0: no growth).
    pub cooldown_multiplier: f64,
    /// Upper bound of a grown cooldown.
    pub max_cooldown: Duration,
    /// Probes admitted at once while half-open.
    pub half_open_max_calls: u32,
    /// Probe successes needed to close.
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            trip: TripRule::Consecutive(5),
            cooldown: Duration::from_secs(60),
            cooldown_multiplier: 1.0,
            max_cooldown: Duration::from_secs(600),
            half_open_max_calls: 1,
            success_threshold: 1,
        }
    }
}

impl BreakerConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// A zero threshold, a ratio outside (0, 1], a window smaller than
    /// `min_calls`, a multiplier below 1, or zero probes.
    pub fn validate(&self) -> Result<(), ReliabilityError> {
        let bad = |what: &'static str, reason: &str| {
            Err(ReliabilityError::InvalidConfig {
                what,
                reason: reason.to_owned(),
            })
        };
        match self.trip {
            TripRule::Consecutive(0) => return bad("failure_threshold", "must be at least 1"),
            TripRule::Rate {
                ratio,
                window,
                min_calls,
            } => {
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return bad(
                        "failure_rate",
                        "must be a fraction in (0, 1], for example 0.5",
                    );
                }
                if window == 0 || min_calls == 0 || min_calls > window {
                    return bad("window/min_calls", "need 1 <= min_calls <= window");
                }
            }
            TripRule::Consecutive(_) => {}
        }
        if !(self.cooldown_multiplier.is_finite() && self.cooldown_multiplier >= 1.0) {
            return bad(
                "cooldown_multiplier",
                "must be a finite number >= 1.0 (1.0 = no growth)",
            );
        }
        if self.half_open_max_calls == 0 {
            return bad("half_open_max_calls", "must be at least 1");
        }
        if self.success_threshold == 0 {
            return bad("success_threshold", "must be at least 1");
        }
        if self.max_cooldown < self.cooldown {
            return bad("max_cooldown", "must be at least the cooldown");
        }
        Ok(())
    }
}

/// A state change, delivered to subscribers after the lock is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The breaker's name.
    pub breaker: String,
    /// Previous state.
    pub from: State,
    /// New state.
    pub to: State,
    /// The failures that tripped it (consecutive, or in the rate window) for a change
    /// to open; 0 when it was opened by hand. Other changes carry the failures seen in
    /// the state left.
    pub failures: u32,
    /// The generation after the change.
    pub generation: u64,
    /// When, on the breaker's clock (ns).
    pub at_ns: u64,
}

/// Counters for dashboards and the demo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Calls admitted.
    pub calls: u64,
    /// Outcomes reported as success.
    pub successes: u64,
    /// Outcomes reported as failure.
    pub failures: u64,
    /// Calls rejected while open or half-open.
    pub rejected: u64,
    /// Sum of the cost estimates of rejected calls, in micro-USD.
    pub cost_saved_micros: u64,
    /// Times the breaker opened.
    pub trips: u64,
    /// Nanoseconds spent in closed, open and half-open (current state included).
    pub time_in_ns: [u64; 3],
}

#[derive(Debug)]
struct Inner {
    state: State,
    generation: u64,
    open_until_ns: u64,
    forced_open: bool,
    consecutive_trips: u32,
    consecutive_failures: u32,
    window: VecDeque<bool>,
    window_failures: u32,
    probes_in_flight: u32,
    probe_successes: u32,
    state_since_ns: u64,
    metrics: Metrics,
}

type Subscriber = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// A named circuit breaker. See the module docs.
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    clock: Clock,
    inner: Mutex<Inner>,
    subscribers: RwLock<Vec<Subscriber>>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Permission to make one call. Report the outcome with [`Permit::success`],
/// [`Permit::failure`] or [`Permit::release`] (neither: the call did not count).
/// Dropping an unreported permit is a release.
#[derive(Debug)]
#[must_use = "report the call's outcome on the permit"]
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    generation: u64,
    probe: bool,
    done: AtomicBool,
}

enum Outcome {
    Success,
    Failure(Option<Duration>),
    Release,
}

impl Permit {
    /// Whether this call is a half-open probe.
    #[must_use]
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The breaker generation it was issued under.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The call succeeded (or failed in a way that shows the service is up).
    /// Returns false if the permit was already reported.
    pub fn success(&self) -> bool {
        self.report(Outcome::Success)
    }

    /// The call failed; `retry_after` is the service's own `Retry-After`, if any.
    pub fn failure(&self, retry_after: Option<Duration>) -> bool {
        self.report(Outcome::Failure(retry_after))
    }

    /// The call does not count either way (cancelled, or refused by our own policy).
    pub fn release(&self) -> bool {
        self.report(Outcome::Release)
    }

    fn report(&self, outcome: Outcome) -> bool {
        if self.done.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.breaker.record(self.generation, self.probe, outcome);
        true
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done.load(Ordering::Acquire) {
            self.report(Outcome::Release);
        }
    }
}

impl CircuitBreaker {
    /// A breaker named `name` (a provider+model, or a service).
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(
        name: impl Into<String>,
        config: BreakerConfig,
        clock: Clock,
    ) -> Result<Arc<Self>, ReliabilityError> {
        config.validate()?;
        let now = clock.now_ns();
        let window = match config.trip {
            TripRule::Rate { window, .. } => VecDeque::with_capacity(window as usize),
            TripRule::Consecutive(_) => VecDeque::new(),
        };
        Ok(Arc::new(CircuitBreaker {
            name: name.into(),
            config,
            clock,
            inner: Mutex::new(Inner {
                state: State::Closed,
                generation: 0,
                open_until_ns: 0,
                forced_open: false,
                consecutive_trips: 0,
                consecutive_failures: 0,
                window,
                window_failures: 0,
                probes_in_flight: 0,
                probe_successes: 0,
                state_since_ns: now,
                metrics: Metrics::default(),
            }),
            subscribers: RwLock::new(Vec::new()),
        }))
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state. An open breaker whose cooldown has ended reports
    /// `HalfOpen` (the next admission makes that real).
    #[must_use]
    pub fn state(&self) -> State {
        let inner = self.lock();
        if inner.state == State::Open
            && !inner.forced_open
            && self.clock.now_ns() >= inner.open_until_ns
        {
            State::HalfOpen
        } else {
            inner.state
        }
    }

    /// Counters, with time in the current state up to now.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let inner = self.lock();
        let mut m = inner.metrics;
        m.time_in_ns[inner.state.index()] +=
            self.clock.now_ns().saturating_sub(inner.state_since_ns);
        m
    }

    /// Calls `f` on every state change, on the thread that caused it.
    pub fn subscribe(&self, f: impl Fn(&StateChange) + Send + Sync + 'static) {
        self.subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::new(f));
    }

    /// Asks to make one call. `cost_estimate_micros` is what the call would
    /// cost, added to `cost_saved` if it is rejected.
    ///
    /// # Errors
    /// [`ReliabilityError::CircuitOpen`] with the seconds until a retry may succeed.
    pub fn admit(self: &Arc<Self>, cost_estimate_micros: u64) -> Result<Permit, ReliabilityError> {
        let mut changes = Vec::new();
        let result = {
            let mut inner = self.lock();
            let mut now = None;
            if inner.state == State::Open && !inner.forced_open {
                let t = self.clock.now_ns();
                now = Some(t);
                if t >= inner.open_until_ns {
                    self.transition(&mut inner, State::HalfOpen, t, &mut changes);
                }
            }
            match inner.state {
                State::Closed => {
                    inner.metrics.calls += 1;
                    Ok(false)
                }
                State::HalfOpen if inner.probes_in_flight < self.config.half_open_max_calls => {
                    inner.probes_in_flight += 1;
                    inner.metrics.calls += 1;
                    Ok(true)
                }
                state => {
                    inner.metrics.rejected += 1;
                    inner.metrics.cost_saved_micros = inner
                        .metrics
                        .cost_saved_micros
                        .saturating_add(cost_estimate_micros);
                    let retry_after_s = if state == State::Open {
                        let t = now.unwrap_or_else(|| self.clock.now_ns());
                        if inner.forced_open {
                            self.config.cooldown.as_secs_f64()
                        } else {
                            Duration::from_nanos(inner.open_until_ns.saturating_sub(t))
                                .as_secs_f64()
                        }
                    } else {
                        // Half-open with every probe slot taken: the probe decides soon.
                        self.config
                            .cooldown
                            .min(Duration::from_secs(1))
                            .as_secs_f64()
                    };
                    Err(ReliabilityError::CircuitOpen {
                        breaker: self.name.clone(),
                        state: state.as_str(),
                        retry_after_s,
                    })
                }
            }
            .map(|probe| (probe, inner.generation))
        };
        self.emit(&changes);
        let (probe, generation) = result?;
        Ok(Permit {
            breaker: Arc::clone(self),
            generation,
            probe,
            done: AtomicBool::new(false),
        })
    }

    fn record(&self, generation: u64, probe: bool, outcome: Outcome) {
        let mut changes = Vec::new();
        {
            let mut inner = self.lock();
            match outcome {
                Outcome::Success => inner.metrics.successes += 1,
                Outcome::Failure(_) => inner.metrics.failures += 1,
                Outcome::Release => {}
            }
            if generation != inner.generation {
                // A result from before the last state change: counted in the
                // metrics, but it must not move the new state.
                drop(inner);
                return;
            }
            match (inner.state, outcome) {
                (State::Closed, Outcome::Success) => {
                    inner.consecutive_failures = 0;
                    self.push_window(&mut inner, false);
                }
                (State::Closed, Outcome::Failure(retry_after)) => {
                    inner.consecutive_failures += 1;
                    self.push_window(&mut inner, true);
                    if self.should_trip(&inner) {
                        let now = self.clock.now_ns();
                        self.trip(&mut inner, now, retry_after, &mut changes);
                    }
                }
                (State::HalfOpen, outcome) if probe => {
                    inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
                    match outcome {
                        Outcome::Success => {
                            inner.probe_successes += 1;
                            if inner.probe_successes >= self.config.success_threshold {
                                let now = self.clock.now_ns();
                                inner.consecutive_trips = 0;
                                self.transition(&mut inner, State::Closed, now, &mut changes);
                            }
                        }
                        Outcome::Failure(retry_after) => {
                            let now = self.clock.now_ns();
                            inner.consecutive_failures = 1; // the failed probe trips it
                            self.trip(&mut inner, now, retry_after, &mut changes);
                        }
                        Outcome::Release => {}
                    }
                }
                _ => {}
            }
        }
        self.emit(&changes);
    }

    fn push_window(&self, inner: &mut Inner, failed: bool) {
        if let TripRule::Rate { window, .. } = self.config.trip {
            if inner.window.len() == window as usize && inner.window.pop_front() == Some(true) {
                inner.window_failures -= 1;
            }
            inner.window.push_back(failed);
            inner.window_failures += u32::from(failed);
        }
    }

    fn should_trip(&self, inner: &Inner) -> bool {
        match self.config.trip {
            TripRule::Consecutive(n) => inner.consecutive_failures >= n,
            TripRule::Rate {
                ratio, min_calls, ..
            } => {
                let calls = inner.window.len();
                #[allow(clippy::cast_precision_loss)]
                let observed = f64::from(inner.window_failures) / calls as f64;
                calls >= min_calls as usize && observed >= ratio
            }
        }
    }

    fn trip(
        &self,
        inner: &mut Inner,
        now: u64,
        retry_after: Option<Duration>,
        changes: &mut Vec<StateChange>,
    ) {
        let grown = self.config.cooldown.as_secs_f64()
            * self
                .config
                .cooldown_multiplier
                .powi(i32::try_from(inner.consecutive_trips).unwrap_or(i32::MAX));
        let cooldown = Duration::from_secs_f64(grown.min(self.config.max_cooldown.as_secs_f64()));
        let wait = retry_after.map_or(cooldown, |r| r.max(cooldown));
        inner.open_until_ns =
            now.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        inner.consecutive_trips = inner.consecutive_trips.saturating_add(1);
        inner.metrics.trips += 1;
        self.transition(inner, State::Open, now, changes);
    }

    fn transition(&self, inner: &mut Inner, to: State, now: u64, changes: &mut Vec<StateChange>) {
        let from = inner.state;
        let failures = inner.consecutive_failures.max(inner.window_failures);
        inner.metrics.time_in_ns[from.index()] += now.saturating_sub(inner.state_since_ns);
        inner.state_since_ns = now;
        inner.state = to;
        inner.generation += 1;
        inner.consecutive_failures = 0;
        inner.window.clear();
        inner.window_failures = 0;
        inner.probes_in_flight = 0;
        inner.probe_successes = 0;
        if to != State::Open {
            inner.forced_open = false;
        }
        changes.push(StateChange {
            breaker: self.name.clone(),
            from,
            to,
            failures,
            generation: inner.generation,
            at_ns: now,
        });
    }

    /// Opens the breaker until [`CircuitBreaker::close`] or [`CircuitBreaker::reset`].
    pub fn force_open(&self) {
        let mut changes = Vec::new();
        {
            let mut inner = self.lock();
            let now = self.clock.now_ns();
            self.transition(&mut inner, State::Open, now, &mut changes);
            inner.forced_open = true;
            inner.open_until_ns = u64::MAX;
        }
        self.emit(&changes);
    }

    /// Closes the breaker now (keeping the trip history that grows cooldowns).
    pub fn close(&self) {
        let mut changes = Vec::new();
        {
            let mut inner = self.lock();
            let now = self.clock.now_ns();
            self.transition(&mut inner, State::Closed, now, &mut changes);
        }
        self.emit(&changes);
    }

    /// Closes the breaker and forgets its trip history (metrics are kept).
    pub fn reset(&self) {
        let mut changes = Vec::new();
        {
            let mut inner = self.lock();
            let now = self.clock.now_ns();
            inner.consecutive_trips = 0;
            self.transition(&mut inner, State::Closed, now, &mut changes);
        }
        self.emit(&changes);
    }

    fn emit(&self, changes: &[StateChange]) {
        if changes.is_empty() {
            return;
        }
        let subs: Vec<Subscriber> = self
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for change in changes {
            for s in &subs {
                s(change);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn breaker(config: BreakerConfig) -> (Arc<CircuitBreaker>, Arc<AtomicU64>) {
        let (clock, t) = Clock::manual();
        (CircuitBreaker::new("svc", config, clock).expect("valid"), t)
    }

    fn fail(b: &Arc<CircuitBreaker>) {
        assert!(b.admit(0).expect("admitted").failure(None));
    }

    #[test]
    fn opens_after_consecutive_failures_and_recovers_through_half_open() {
        let (b, t) = breaker(BreakerConfig::default());
        for _ in 0..4 {
            fail(&b);
        }
        assert!(
            b.admit(0).expect("closed").success(),
            "a success resets the count"
        );
        for _ in 0..5 {
            fail(&b);
        }
        assert_eq!(b.state(), State::Open);
        let err = b.admit(7).expect_err("open");
        assert!(
            matches!(err, ReliabilityError::CircuitOpen { retry_after_s, .. } if (retry_after_s - 60.0).abs() < 1e-9)
        );
        t.store(60_000_000_000, Ordering::Release);
        assert_eq!(b.state(), State::HalfOpen);
        let probe = b.admit(0).expect("probe");
        assert!(probe.is_probe());
        assert!(b.admit(0).is_err(), "one probe at a time");
        probe.success();
        assert_eq!(b.state(), State::Closed);
        let m = b.metrics();
        assert_eq!((m.rejected, m.cost_saved_micros, m.trips), (2, 7, 1));
        assert_eq!(m.time_in_ns[1], 60_000_000_000);
    }

    #[test]
    fn late_results_from_an_old_generation_are_ignored() {
        let (b, _t) = breaker(BreakerConfig {
            trip: TripRule::Consecutive(1),
            ..BreakerConfig::default()
        });
        let slow = b.admit(0).expect("closed");
        fail(&b);
        assert_eq!(b.state(), State::Open);
        slow.success();
        assert_eq!(b.state(), State::Open, "the slow success must not close it");
    }

    #[test]
    fn dropped_probe_frees_its_slot_and_retry_after_extends_cooldown() {
        let (b, t) = breaker(BreakerConfig {
            trip: TripRule::Consecutive(1),
            ..BreakerConfig::default()
        });
        assert!(b
            .admit(0)
            .expect("closed")
            .failure(Some(Duration::from_secs(120))));
        t.store(61_000_000_000, Ordering::Release);
        assert!(
            b.admit(0).is_err(),
            "Retry-After of 120s outlasts the 60s cooldown"
        );
        t.store(120_000_000_000, Ordering::Release);
        drop(b.admit(0).expect("probe"));
        let again = b.admit(0).expect("slot was freed");
        again.failure(None);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn rate_mode_and_growth() {
        let cfg = BreakerConfig {
            trip: TripRule::Rate {
                ratio: 0.5,
                window: 4,
                min_calls: 4,
            },
            cooldown: Duration::from_secs(10),
            cooldown_multiplier: 2.0,
            max_cooldown: Duration::from_secs(25),
            ..BreakerConfig::default()
        };
        let (b, t) = breaker(cfg);
        for ok in [true, false, true] {
            let p = b.admit(0).expect("closed");
            if ok {
                p.success();
            } else {
                p.failure(None);
            }
        }
        assert_eq!(b.state(), State::Closed, "3 calls < min_calls");
        fail(&b);
        assert_eq!(b.state(), State::Open, "2 of 4 failed");
        for (at, expect_open_for) in [(10u64, 20u64), (30, 25)] {
            t.store(at * 1_000_000_000, Ordering::Release);
            b.admit(0).expect("probe").failure(None);
            let err = b.admit(0).expect_err("open again");
            assert!(
                matches!(err, ReliabilityError::CircuitOpen { retry_after_s, .. } if (retry_after_s - expect_open_for as f64).abs() < 1e-9),
                "{err}"
            );
        }
    }

    #[test]
    fn a_trip_says_how_many_failures_tripped_it() {
        let (b, t) = breaker(BreakerConfig::default()); // 5 consecutive failures
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        b.subscribe(move |c| s2.lock().expect("lock").push((c.to, c.failures)));
        for _ in 0..5 {
            fail(&b);
        }
        t.store(120 * 1_000_000_000, Ordering::Release); // past the cooldown: a probe
        b.admit(0).expect("probe").failure(None);
        b.force_open();
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen[0], (State::Open, 5));
        assert_eq!(seen[1].0, State::HalfOpen);
        assert_eq!(seen[2], (State::Open, 1));
    }

    #[test]
    fn manual_controls_and_events() {
        let (b, _t) = breaker(BreakerConfig::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        b.subscribe(move |c| s2.lock().expect("lock").push((c.from, c.to)));
        b.force_open();
        assert!(b.admit(0).is_err());
        b.close();
        b.reset();
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![
                (State::Closed, State::Open),
                (State::Open, State::Closed),
                (State::Closed, State::Closed)
            ]
        );
        assert!(CircuitBreaker::new(
            "x",
            BreakerConfig {
                half_open_max_calls: 0,
                ..BreakerConfig::default()
            },
            Clock::monotonic()
        )
        .is_err());
    }
}
