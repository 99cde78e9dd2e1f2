//! Events of the pipeline: delivered to in-process subscribers and, when a path
//! is configured, appended to a JSON-lines file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::record::CallRecord;

type Subscriber = Arc<dyn Fn(&Value) + Send + Sync>;
type CallSubscriber = Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// Fan-out of events. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    subscribers: RwLock<Vec<(u64, Subscriber)>>,
    /// Subscribers to the typed records of charged calls.
    calls: RwLock<Vec<(u64, CallSubscriber)>>,
    /// Subscribers to some kinds of event only (they do not make `llm_call` serialised).
    kinds: RwLock<Vec<(u64, &'static [&'static str], Subscriber)>>,
    next_id: AtomicU64,
    file: Mutex<Option<File>>,
    /// Subscribers plus an open file: zero means nobody listens.
    listeners: AtomicU64,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl EventBus {
    /// A bus with no subscribers and no file.
    #[must_use]
    pub fn new() -> Self {
        EventBus::default()
    }

    /// Also appends every event as one JSON line to `path`.
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn log_to(&self, path: &Path) -> std::io::Result<()> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut slot = self
            .inner
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            self.inner.listeners.fetch_add(1, Ordering::Relaxed);
        }
        *slot = Some(file);
        Ok(())
    }

    /// Calls `f` with every event (on the thread that emits it); returns an id for [`EventBus::unsubscribe`].
    pub fn subscribe(&self, f: impl Fn(&Value) + Send + Sync + 'static) -> u64 {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.listeners.fetch_add(1, Ordering::Relaxed);
        self.inner
            .subscribers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id, Arc::new(f)));
        id
    }

    /// Calls `f` with the record of every charged call; returns an id for
    /// [`EventBus::unsubscribe`].
    pub fn subscribe_calls(&self, f: impl Fn(&CallRecord) + Send + Sync + 'static) -> u64 {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.listeners.fetch_add(1, Ordering::Relaxed);
        self.inner
            .calls
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id, Arc::new(f)));
        id
    }

    /// Calls `f` with every event whose `type` is one of `kinds` (never `llm_call`:
    /// typed records are for [`EventBus::subscribe_calls`]); returns an id for
    /// [`EventBus::unsubscribe`].
    pub fn subscribe_kinds(
        &self,
        kinds: &'static [&'static str],
        f: impl Fn(&Value) + Send + Sync + 'static,
    ) -> u64 {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.listeners.fetch_add(1, Ordering::Relaxed);
        self.inner
            .kinds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id, kinds, Arc::new(f)));
        id
    }

    /// Removes a subscriber (of events or of call records); false if it was not there.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let removed = remove(&self.inner.subscribers, id) || remove(&self.inner.calls, id) || {
            let mut subs = self
                .inner
                .kinds
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = subs.len();
            subs.retain(|(i, _, _)| *i != id);
            subs.len() != before
        };
        if removed {
            self.inner.listeners.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Delivers a charged call: the record to typed subscribers, and the
    /// `llm_call` event (serialised once) to event subscribers and the file.
    pub fn emit_call(&self, record: &CallRecord) {
        if !self.is_active() {
            return;
        }
        let typed: Vec<CallSubscriber> = self
            .inner
            .calls
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(_, f)| Arc::clone(f))
            .collect();
        for f in typed {
            f(record);
        }
        let untyped = !self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty();
        let file = self
            .inner
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        if untyped || file {
            self.emit("llm_call", record.to_json());
        }
    }

    /// Whether anybody listens (callers skip building events otherwise).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.inner.listeners.load(Ordering::Relaxed) > 0
    }

    /// Emits an event of `kind` with `fields` (a `type` and a `ts` are added).
    pub fn emit(&self, kind: &str, fields: Value) {
        if !self.is_active() {
            return;
        }
        let mut map = match fields {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        map.insert("type".into(), json!(kind));
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        map.insert("ts".into(), json!(ts));
        let event = Value::Object(map);
        let mut subs: Vec<Subscriber> = self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(_, f)| Arc::clone(f))
            .collect();
        subs.extend(
            self.inner
                .kinds
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .filter(|(_, kinds, _)| kinds.contains(&kind))
                .map(|(_, _, f)| Arc::clone(f)),
        );
        for f in subs {
            f(&event);
        }
        let mut file = self
            .inner
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = file.as_mut() {
            let mut line = event.to_string();
            line.push('\n');
            // An events file that cannot be written must not fail the call it describes.
            let _ = f.write_all(line.as_bytes());
        }
    }
}

fn remove<T>(list: &RwLock<Vec<(u64, T)>>, id: u64) -> bool {
    let mut subs = list
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = subs.len();
    subs.retain(|(i, _)| *i != id);
    subs.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_and_file() {
        let dir = std::env::temp_dir().join(format!("ic-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("events.jsonl");
        let bus = EventBus::new();
        bus.log_to(&path).expect("open");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        let id = bus.subscribe(move |e| s2.lock().expect("lock").push(e["type"].clone()));
        bus.emit("llm_call", json!({"model": "m"}));
        assert!(bus.unsubscribe(id));
        bus.emit("other", json!({}));
        assert_eq!(*seen.lock().expect("lock"), vec![json!("llm_call")]);
        let some = Arc::new(Mutex::new(Vec::new()));
        let s3 = Arc::clone(&some);
        let id = bus.subscribe_kinds(&["llm_refused"], move |e| {
            s3.lock().expect("lock").push(e["type"].clone());
        });
        bus.emit("llm_error", json!({}));
        bus.emit("llm_refused", json!({}));
        assert!(bus.unsubscribe(id));
        assert!(!bus.unsubscribe(id));
        bus.emit("llm_refused", json!({}));
        assert_eq!(*some.lock().expect("lock"), vec![json!("llm_refused")]);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 5);
        let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first["model"], "m");
        std::fs::remove_dir_all(dir).ok();
    }
}
