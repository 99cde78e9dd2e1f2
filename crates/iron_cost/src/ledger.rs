//! The budget ledger: reserve before a call, commit the actual cost after it.
//!
//! Two atomics hold the state: `used` (committed spend plus outstanding
//! reservations) and `spent` (committed spend). A reservation is one
//! compare-and-swap on `used` that succeeds only if `used + amount <= limit`,
//! so no interleaving of concurrent callers can take `used` past the limit:
//! overspend is impossible by construction, not by a check that can race.
//!
//! A commit adds the actual cost to `spent` and moves `used` by `actual -
//! reserved`. `spent` is striped over per-thread shards on their own cache
//! lines, and the read-mostly limit sits apart from `used`, so concurrent
//! commits contend on one cache line only (see BENCHMARKS.md). If the provider billed MORE than was reserved (a reservation made
//! from an estimate), the overrun is recorded, not hidden: `used` may then
//! exceed the limit, and every later reservation fails until the limit is raised.
//!
//! A child ledger draws from its parent: a reservation takes room in the child
//! and in every ancestor, or in none of them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::CostError;
use crate::money::Money;

/// Parts per million of the limit: thresholds are held as integers.
const PPM: u64 = 1_000_000;

/// Stripes of the `spent` counter. Threads are spread over them round-robin.
const SHARDS: usize = 8;

/// Keeps a value on its own cache line(s): 128 bytes, as the adjacent-line
/// prefetcher of x86 pulls lines in pairs.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// Something that happened to a ledger that a caller may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEvent {
    /// Committed spend reached a threshold fraction of the limit (fires once;
    /// re-armed only if `set_limit` moves spend back below it).
    ThresholdCrossed {
        /// The ledger's name.
        ledger: String,
        /// The threshold in parts per million of the limit (900000 = 90%).
        threshold_ppm: u64,
        /// Spend when it fired.
        spent: Money,
        /// The limit when it fired.
        limit: Money,
    },
}

type Subscriber = Arc<dyn Fn(&LedgerEvent) + Send + Sync>;

#[derive(Debug)]
struct Threshold {
    ppm: u64,
    fired: AtomicBool,
}

/// A point-in-time view of a ledger. `reserved + spent == used` by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The limit.
    pub limit: Money,
    /// Committed spend.
    pub spent: Money,
    /// Outstanding reservations.
    pub reserved: Money,
    /// What can still be reserved (zero when overrun).
    pub remaining: Money,
    /// Total actual cost recorded above reservations so far.
    pub overrun: Money,
}

/// A spending limit shared by concurrent callers. See the module docs.
pub struct Ledger {
    name: String,
    /// Read on every reservation, written rarely: its own line.
    limit: Padded<AtomicU64>,
    /// Committed spend plus outstanding reservations: the one contended word.
    used: Padded<AtomicU64>,
    /// Committed spend, striped; the sum is the spend.
    spent: [Padded<AtomicU64>; SHARDS],
    overrun: AtomicU64,
    thresholds: Box<[Threshold]>,
    parent: Option<Arc<Ledger>>,
    subscribers: RwLock<Vec<(u64, Subscriber)>>,
    next_subscriber: AtomicU64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("name", &self.name)
            .field("snapshot", &self.snapshot())
            .finish_non_exhaustive()
    }
}

/// Converts threshold fractions to sorted, de-duplicated parts per million.
///
/// # Errors
/// A fraction outside (0, 1] or not finite.
pub fn thresholds_ppm(fractions: &[f64]) -> Result<Vec<u64>, CostError> {
    let mut out = Vec::with_capacity(fractions.len());
    for &f in fractions {
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            return Err(CostError::InvalidThreshold(format!("{f}")));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        out.push((f * 1e6).round() as u64);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Ledger {
    /// A top-level ledger. `thresholds_ppm` from [`thresholds_ppm`].
    #[must_use]
    pub fn new(name: impl Into<String>, limit: Money, thresholds_ppm: &[u64]) -> Arc<Ledger> {
        Self::build(name.into(), limit, thresholds_ppm, None)
    }

    /// A ledger whose reservations also draw from `parent` (and its ancestors).
    #[must_use]
    pub fn child(
        parent: &Arc<Ledger>,
        name: impl Into<String>,
        limit: Money,
        thresholds_ppm: &[u64],
    ) -> Arc<Ledger> {
        Self::build(name.into(), limit, thresholds_ppm, Some(Arc::clone(parent)))
    }

    fn build(
        name: String,
        limit: Money,
        thresholds_ppm: &[u64],
        parent: Option<Arc<Ledger>>,
    ) -> Arc<Ledger> {
        Arc::new(Ledger {
            name,
            limit: Padded(AtomicU64::new(limit.micros())),
            used: Padded(AtomicU64::new(0)),
            spent: Default::default(),
            overrun: AtomicU64::new(0),
            thresholds: thresholds_ppm
                .iter()
                .map(|&ppm| Threshold {
                    ppm,
                    fired: AtomicBool::new(false),
                })
                .collect(),
            parent,
            subscribers: RwLock::new(Vec::new()),
            next_subscriber: AtomicU64::new(0),
        })
    }

    /// The ledger's name, as shown in errors and events.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parent ledger, if this is a child.
    #[must_use]
    pub fn parent(&self) -> Option<&Arc<Ledger>> {
        self.parent.as_ref()
    }

    /// The current state. `used` is read once, so `spent + reserved` is consistent.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let limit = self.limit.0.load(Ordering::Acquire);
        let used = self.used.0.load(Ordering::SeqCst);
        // Shards only grow, and a commit's amount is in `used` before it is in a
        // shard, so a later read of the shards can only over-state spend relative
        // to `used`; take the larger so `spent + reserved` never reads low.
        let spent = self.spent_micros();
        let used = used.max(spent);
        Snapshot {
            limit: Money::from_micros(limit),
            spent: Money::from_micros(spent),
            reserved: Money::from_micros(used - spent),
            remaining: Money::from_micros(limit.saturating_sub(used)),
            overrun: Money::from_micros(self.overrun.load(Ordering::Acquire)),
        }
    }

    /// Committed spend.
    #[must_use]
    pub fn spent(&self) -> Money {
        Money::from_micros(self.spent_micros())
    }

    fn spent_micros(&self) -> u64 {
        self.spent.iter().map(|s| s.0.load(Ordering::SeqCst)).sum()
    }

    /// The limit.
    #[must_use]
    pub fn limit(&self) -> Money {
        Money::from_micros(self.limit.0.load(Ordering::Acquire))
    }

    /// What can still be reserved here and in every ancestor.
    #[must_use]
    pub fn available(&self) -> Money {
        let own = self.snapshot().remaining;
        match &self.parent {
            Some(p) => own.min(p.available()),
            None => own,
        }
    }

    /// Changes the limit. Lowering it below what is used blocks new reservations
    /// but cancels none in flight. Thresholds that spend has not reached under
    /// the new limit are re-armed; those it has reached fire now.
    pub fn set_limit(&self, limit: Money) {
        self.limit.0.store(limit.micros(), Ordering::Release);
        let spent = self.spent_micros();
        for t in &*self.thresholds {
            if !crossed(spent, limit.micros(), t.ppm) {
                t.fired.store(false, Ordering::Release);
            }
        }
        self.check_thresholds(spent);
    }

    /// Reserves `amount` here and in every ancestor, or nowhere.
    ///
    /// # Errors
    /// [`CostError::BudgetExceeded`] naming the ledger that had no room; nothing changes.
    pub fn reserve(&self, amount: Money) -> Result<Reservation<'_>, CostError> {
        self.reserve_raw(amount.micros())?;
        Ok(Reservation {
            ledger: self,
            amount,
            settled: false,
        })
    }

    /// Like [`Ledger::reserve`] but the reservation owns a handle to the ledger,
    /// for callers that cannot hold a borrow (other threads, Python objects).
    ///
    /// # Errors
    /// As [`Ledger::reserve`].
    pub fn reserve_shared(self: &Arc<Self>, amount: Money) -> Result<SharedReservation, CostError> {
        self.reserve_raw(amount.micros())?;
        Ok(SharedReservation {
            ledger: Arc::clone(self),
            amount,
            state: AtomicU8::new(PENDING),
        })
    }

    fn reserve_raw(&self, amount: u64) -> Result<(), CostError> {
        let mut used = self.used.0.load(Ordering::Relaxed);
        loop {
            let limit = self.limit.0.load(Ordering::Acquire);
            let next = used.checked_add(amount).filter(|&n| n <= limit);
            let Some(next) = next else {
                return Err(self.exceeded(amount, used, limit));
            };
            match self
                .used
                .0
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => used = actual,
            }
        }
        if let Some(parent) = &self.parent {
            if let Err(e) = parent.reserve_raw(amount) {
                self.used.0.fetch_sub(amount, Ordering::AcqRel);
                return Err(e);
            }
        }
        Ok(())
    }

    fn exceeded(&self, requested: u64, used: u64, limit: u64) -> CostError {
        let spent = self.spent_micros().min(used);
        CostError::BudgetExceeded {
            ledger: self.name.clone(),
            limit: Money::from_micros(limit),
            spent: Money::from_micros(spent),
            reserved: Money::from_micros(used - spent),
            requested: Money::from_micros(requested),
            remaining: Money::from_micros(limit.saturating_sub(used)),
        }
    }

    fn settle_raw(&self, reserved: u64, actual: u64) {
        let shard = &self.spent[shard_index()].0;
        // Order keeps `spent <= used` at every instant: an overrun enters `used`
        // before the shard; otherwise the amount is already in `used` (reserved)
        // and leaves it only as the unused remainder, after the shard has it.
        let used_after = if actual > reserved {
            let extra = actual - reserved;
            self.overrun.fetch_add(extra, Ordering::AcqRel);
            let after = self.used.0.fetch_add(extra, Ordering::SeqCst) + extra;
            shard.fetch_add(actual, Ordering::SeqCst);
            after
        } else {
            shard.fetch_add(actual, Ordering::SeqCst);
            // Always an RMW on `used`, even of zero: the committer whose RMW is
            // later in `used`'s order then sees every earlier shard add, so the
            // commit that crosses a threshold is never missed.
            let freed = reserved - actual;
            self.used.0.fetch_sub(freed, Ordering::SeqCst) - freed
        };
        self.check_thresholds_gated(used_after);
        if let Some(parent) = &self.parent {
            parent.settle_raw(reserved, actual);
        }
    }

    fn release_raw(&self, reserved: u64) {
        self.used.0.fetch_sub(reserved, Ordering::AcqRel);
        if let Some(parent) = &self.parent {
            parent.release_raw(reserved);
        }
    }

    /// Spend never exceeds `used`, so while `used` is below every unfired
    /// threshold no shard needs reading: the common commit skips the sum.
    #[inline]
    fn check_thresholds_gated(&self, used: u64) {
        if self.thresholds.is_empty() {
            return;
        }
        let limit = self.limit.0.load(Ordering::Acquire);
        let armed = self
            .thresholds
            .iter()
            .any(|t| !t.fired.load(Ordering::Relaxed) && crossed(used, limit, t.ppm));
        if armed {
            self.check_thresholds(self.spent_micros());
        }
    }

    fn check_thresholds(&self, spent: u64) {
        if self.thresholds.is_empty() {
            return;
        }
        let limit = self.limit.0.load(Ordering::Acquire);
        for t in &*self.thresholds {
            if !t.fired.load(Ordering::Relaxed)
                && crossed(spent, limit, t.ppm)
                && !t.fired.swap(true, Ordering::AcqRel)
            {
                self.emit(&LedgerEvent::ThresholdCrossed {
                    ledger: self.name.clone(),
                    threshold_ppm: t.ppm,
                    spent: Money::from_micros(spent),
                    limit: Money::from_micros(limit),
                });
            }
        }
    }

    /// Thresholds (in ppm) that have fired and not been re-armed.
    #[must_use]
    pub fn fired_thresholds(&self) -> Vec<u64> {
        self.thresholds
            .iter()
            .filter(|t| t.fired.load(Ordering::Acquire))
            .map(|t| t.ppm)
            .collect()
    }

    /// Calls `f` for every event of this ledger, on the thread that caused it.
    /// Returns an id for [`Ledger::unsubscribe`].
    pub fn subscribe(&self, f: impl Fn(&LedgerEvent) + Send + Sync + 'static) -> u64 {
        let id = self.next_subscriber.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id, Arc::new(f)));
        id
    }

    /// Stops calling the subscriber `id`; false if there was none.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut subs = self
            .subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = subs.len();
        subs.retain(|(i, _)| *i != id);
        subs.len() != before
    }

    fn emit(&self, event: &LedgerEvent) {
        // Clone the list so a subscriber may (un)subscribe without deadlocking.
        let subs: Vec<Subscriber> = self
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(_, s)| Arc::clone(s))
            .collect();
        for s in subs {
            s(event);
        }
    }
}

fn crossed(spent: u64, limit: u64, ppm: u64) -> bool {
    // spent / limit >= ppm / 1e6, in integers; a zero limit is crossed by any threshold.
    u128::from(spent) * u128::from(PPM) >= u128::from(limit) * u128::from(ppm)
}

/// A reservation borrowing its ledger; settled exactly once by the type system
/// (`commit` and `release` consume it). Dropped unsettled, it releases.
#[derive(Debug)]
#[must_use = "a reservation holds budget until it is committed or released"]
pub struct Reservation<'a> {
    ledger: &'a Ledger,
    amount: Money,
    settled: bool,
}

impl Reservation<'_> {
    /// The reserved amount.
    #[must_use]
    pub fn amount(&self) -> Money {
        self.amount
    }

    /// Records the actual cost and frees the rest of the reservation.
    pub fn commit(mut self, actual: Money) {
        self.settled = true;
        self.ledger
            .settle_raw(self.amount.micros(), actual.micros());
    }

    /// Frees the whole reservation (the call did not happen or cost nothing).
    pub fn release(mut self) {
        self.settled = true;
        self.ledger.release_raw(self.amount.micros());
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.ledger.release_raw(self.amount.micros());
        }
    }
}

const PENDING: u8 = 0;
const COMMITTED: u8 = 1;
const RELEASED: u8 = 2;

/// A reservation that owns a handle to its ledger and may be settled from any
/// thread through `&self`; a second settle is an error that changes nothing.
/// Dropped unsettled, it releases.
#[derive(Debug)]
pub struct SharedReservation {
    ledger: Arc<Ledger>,
    amount: Money,
    state: AtomicU8,
}

impl SharedReservation {
    /// The reserved amount.
    #[must_use]
    pub fn amount(&self) -> Money {
        self.amount
    }

    /// The ledger it was taken from.
    #[must_use]
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// `pending`, `committed` or `released`.
    #[must_use]
    pub fn state(&self) -> &'static str {
        state_name(self.state.load(Ordering::Acquire))
    }

    fn settle(&self, to: u8) -> Result<(), CostError> {
        self.state
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|s| CostError::AlreadySettled {
                amount: self.amount,
                state: state_name(s),
            })
    }

    /// Records the actual cost and frees the rest.
    ///
    /// # Errors
    /// Already committed or released; nothing changes.
    pub fn commit(&self, actual: Money) -> Result<(), CostError> {
        self.settle(COMMITTED)?;
        self.ledger
            .settle_raw(self.amount.micros(), actual.micros());
        Ok(())
    }

    /// Frees the whole reservation.
    ///
    /// # Errors
    /// Already committed or released; nothing changes.
    pub fn release(&self) -> Result<(), CostError> {
        self.settle(RELEASED)?;
        self.ledger.release_raw(self.amount.micros());
        Ok(())
    }
}

fn state_name(s: u8) -> &'static str {
    match s {
        PENDING => "pending",
        COMMITTED => "committed",
        _ => "released",
    }
}

impl Drop for SharedReservation {
    fn drop(&mut self) {
        if self.state.load(Ordering::Acquire) == PENDING {
            self.ledger.release_raw(self.amount.micros());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(x: f64) -> Money {
        Money::from_usd_f64(x, "t").expect("valid")
    }

    #[test]
    fn reserve_commit_release() {
        let l = Ledger::new("b", usd(1.0), &[]);
        let r = l.reserve(usd(0.6)).expect("fits");
        assert!(l.reserve(usd(0.5)).is_err(), "0.6 reserved + 0.5 > 1.0");
        r.commit(usd(0.2));
        let s = l.snapshot();
        assert_eq!(
            (s.spent, s.reserved, s.remaining),
            (usd(0.2), Money::ZERO, usd(0.8))
        );
        l.reserve(usd(0.8)).expect("exactly fits").release();
        assert_eq!(l.snapshot().remaining, usd(0.8));
        {
            let _dropped = l.reserve(usd(0.3)).expect("fits");
        }
        assert_eq!(l.snapshot().reserved, Money::ZERO, "dropping releases");
    }

    #[test]
    fn overrun_is_recorded_and_blocks() {
        let l = Ledger::new("b", usd(1.0), &[]);
        l.reserve(usd(0.5)).expect("fits").commit(usd(1.2));
        let s = l.snapshot();
        assert_eq!(
            (s.spent, s.overrun, s.remaining),
            (usd(1.2), usd(0.7), Money::ZERO)
        );
        assert!(l.reserve(Money::ZERO).is_err());
    }

    #[test]
    fn shared_reservation_settles_once() {
        let l = Ledger::new("b", usd(1.0), &[]);
        let r = l.reserve_shared(usd(0.5)).expect("fits");
        r.commit(usd(0.1)).expect("first");
        assert!(matches!(
            r.commit(usd(0.1)),
            Err(CostError::AlreadySettled {
                state: "committed",
                ..
            })
        ));
        assert!(matches!(r.release(), Err(CostError::AlreadySettled { .. })));
        assert_eq!(l.spent(), usd(0.1));
    }

    #[test]
    fn child_draws_from_parent_atomically() {
        let parent = Ledger::new("team", usd(1.0), &[]);
        let a = Ledger::child(&parent, "a", usd(0.8), &[]);
        let b = Ledger::child(&parent, "b", usd(0.8), &[]);
        let ra = a.reserve(usd(0.7)).expect("fits");
        let err = b.reserve(usd(0.5)).expect_err("parent has 0.3 left");
        assert!(matches!(&err, CostError::BudgetExceeded { ledger, .. } if ledger == "team"));
        assert_eq!(b.snapshot().reserved, Money::ZERO, "child rolled back");
        ra.commit(usd(0.7));
        assert_eq!((a.spent(), parent.spent()), (usd(0.7), usd(0.7)));
        assert_eq!(b.available(), usd(0.3));
    }

    #[test]
    fn thresholds_fire_once_and_rearm() {
        let l = Ledger::new("b", usd(10.0), &thresholds_ppm(&[0.5, 0.9]).expect("valid"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        l.subscribe(move |e| {
            let LedgerEvent::ThresholdCrossed { threshold_ppm, .. } = e;
            s2.lock().expect("lock").push(*threshold_ppm);
        });
        for _ in 0..10 {
            l.reserve(usd(1.0)).expect("fits").commit(usd(0.95));
        }
        assert_eq!(*seen.lock().expect("lock"), vec![500_000, 900_000]);
        l.set_limit(usd(20.0));
        assert_eq!(
            l.fired_thresholds(),
            Vec::<u64>::new(),
            "9.5 of 20 is below both"
        );
        l.set_limit(usd(10.0));
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![500_000, 900_000, 500_000, 900_000]
        );
        assert!(
            thresholds_ppm(&[0.0]).is_err()
                && thresholds_ppm(&[1.5]).is_err()
                && thresholds_ppm(&[f64::NAN]).is_err()
        );
    }
}
