//! One breaker per key (provider + model, or a service name), made on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::breaker::{BreakerConfig, CircuitBreaker, StateChange};
use crate::clock::Clock;
use crate::error::ReliabilityError;

type Subscriber = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// Breakers by key, all made from one configuration and clock. Lookups of an
/// existing key take a read lock only.
pub struct BreakerRegistry {
    config: BreakerConfig,
    clock: Clock,
    breakers: RwLock<HashMap<String, Arc<CircuitBreaker>>>,
    subscribers: RwLock<Vec<Subscriber>>,
}

impl std::fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl BreakerRegistry {
    /// A registry whose breakers use `config` and `clock`.
    ///
    /// # Errors
    /// An invalid configuration (checked once, here).
    pub fn new(config: BreakerConfig, clock: Clock) -> Result<Self, ReliabilityError> {
        config.validate()?;
        Ok(BreakerRegistry {
            config,
            clock,
            breakers: RwLock::new(HashMap::new()),
            subscribers: RwLock::new(Vec::new()),
        })
    }

    /// The breaker for `key`, made on first use.
    #[allow(clippy::missing_panics_doc)]
    pub fn get(&self, key: &str) -> Arc<CircuitBreaker> {
        if let Some(b) = self
            .breakers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
        {
            return Arc::clone(b);
        }
        let mut map = self
            .breakers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(key.to_owned()).or_insert_with(|| {
            #[allow(clippy::expect_used)]
            let b = CircuitBreaker::new(key, self.config.clone(), self.clock.clone())
                .expect("configuration validated when the registry was made");
            for s in self
                .subscribers
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
            {
                let s = Arc::clone(s);
                b.subscribe(move |c| s(c));
            }
            b
        }))
    }

    /// Calls `f` on every state change of every breaker, present and future.
    pub fn subscribe(&self, f: impl Fn(&StateChange) + Send + Sync + 'static) {
        let f: Subscriber = Arc::new(f);
        for b in self
            .breakers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            let f = Arc::clone(&f);
            b.subscribe(move |c| f(c));
        }
        self.subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(f);
    }

    /// The keys that have a breaker, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .breakers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{State, TripRule};
    use std::sync::Mutex;

    #[test]
    fn one_breaker_per_key_with_shared_events() {
        let cfg = BreakerConfig {
            trip: TripRule::Consecutive(1),
            ..BreakerConfig::default()
        };
        let reg = BreakerRegistry::new(cfg, Clock::manual().0).expect("valid");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        reg.subscribe(move |c| s2.lock().expect("lock").push(c.breaker.clone()));
        let a = reg.get("openai/gpt-4o");
        assert!(Arc::ptr_eq(&a, &reg.get("openai/gpt-4o")));
        a.admit(0).expect("closed").failure(None);
        assert_eq!(reg.get("openai/gpt-4o").state(), State::Open);
        assert_eq!(
            reg.get("anthropic/claude-sonnet-4-5").state(),
            State::Closed,
            "keys are independent"
        );
        assert_eq!(
            reg.keys(),
            vec![
                "anthropic/claude-sonnet-4-5".to_owned(),
                "openai/gpt-4o".to_owned()
            ]
        );
        assert_eq!(
            *seen.lock().expect("lock"),
            vec!["openai/gpt-4o".to_owned()]
        );
    }
}
