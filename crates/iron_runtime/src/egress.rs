//! PII and secrets in what a request sends: a policy per entity, applied
//! before the budget is reserved, and reversible placeholders.
//!
//! The scanner runs over everything the request sends the provider (message
//! text and parts, system and developer prompts, tool results and arguments,
//! Responses input items, Anthropic system and tool_result blocks; never the
//! media payloads). Each finding gets its entity's action: `allow`, `warn`
//! (an event, nothing changed), `redact` (`[EMAIL_REDACTED]`), `pseudonymize`
//! (a placeholder such as `<EMAIL_1>`, the same for the same value for the
//! life of the runtime, restored in the reply before the agent sees it) or
//! `block` (the request is refused, nothing reserved or sent). The mapping of
//! placeholders lives in this process's memory only and is never logged.

use std::collections::HashMap;
use std::sync::Mutex;

use iron_safety::{Finding, Scanner};
use serde_json::Value;
use zeroize::Zeroizing;

/// What to do with one kind of finding in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it as it is, say nothing.
    Allow,
    /// Send it; emit an event.
    Warn,
    /// Replace it with the entity's token (`[EMAIL_REDACTED]`).
    Redact,
    /// Replace it with a stable placeholder, restored in the reply.
    Pseudonymize,
    /// Refuse the request.
    Block,
}

impl Action {
    /// Parses `allow`, `warn`, `redact`, `pseudonymize` or `block`.
    ///
    /// # Errors
    /// Any other word, named in the message with what is accepted.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "allow" | "off" => Action::Allow,
            "warn" => Action::Warn,
            "redact" => Action::Redact,
            "pseudonymize" | "pseudonymise" => Action::Pseudonymize,
            "block" => Action::Block,
            other => {
                return Err(format!(
                    "unknown PII action {other:?}: use allow, warn, redact, pseudonymize or block"
                ))
            }
        })
    }

    /// How much it keeps from the provider: allow < warn < pseudonymize <
    /// redact < block (a placeholder still tells the model "the same value").
    #[must_use]
    pub fn strictness(self) -> u8 {
        match self {
            Action::Allow => 0,
            Action::Warn => 1,
            Action::Pseudonymize => 2,
            Action::Redact => 3,
            Action::Block => 4,
        }
    }

    /// The action's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allowed",
            Action::Warn => "warn",
            Action::Redact => "redacted",
            Action::Pseudonymize => "pseudonymized",
            Action::Block => "blocked",
        }
    }
}

/// A PII policy for one direction (requests or replies): an action per entity
/// and one for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiPolicy {
    per_entity: Vec<(String, Action)>,
    default: Action,
}

impl PiiPolicy {
    /// The policy for requests by default: credentials never leave (a key in a
    /// prompt is almost always a leak); everything else leaves as placeholders,
    /// so agents keep working.
    #[must_use]
    pub fn requests() -> Self {
        PiiPolicy {
            per_entity: vec![
                ("API_KEY".into(), Action::Block),
                ("PRIVATE_KEY".into(), Action::Block),
            ],
            default: Action::Pseudonymize,
        }
    }

    /// The request default with `overrides` (`{"EMAIL": "redact", "default": "warn"}`).
    ///
    /// # Errors
    /// A value that is not an action, or not a string.
    pub fn requests_from_json(overrides: &Value) -> Result<Self, String> {
        PiiPolicy::requests().with(overrides)
    }

    /// The policy for replies: `mode` (the scanner's: redact, block or warn)
    /// for every entity, with `overrides` (`{"EMAIL": "allow"}`). A reply's
    /// values cannot be pseudonymized (nothing would restore them).
    ///
    /// # Errors
    /// A value that is not an action, or `pseudonymize`.
    pub fn replies_from_json(mode: Action, overrides: &Value) -> Result<Self, String> {
        let policy = PiiPolicy::uniform(mode).with(overrides)?;
        policy.no_pseudonyms()?;
        Ok(policy)
    }

    fn no_pseudonyms(&self) -> Result<(), String> {
        let named = self
            .per_entity
            .iter()
            .find(|(_, a)| *a == Action::Pseudonymize)
            .map(|(e, _)| e.as_str());
        if self.default == Action::Pseudonymize || named.is_some() {
            return Err(format!(
                "pseudonymize applies to requests only ({}): use allow, warn, redact or block for replies",
                named.unwrap_or("default")
            ));
        }
        Ok(())
    }

    /// What the reply scanner does with an entity's findings (`None`: allowed).
    #[must_use]
    pub fn reply_mode(&self, entity: &str) -> Option<iron_safety::Mode> {
        match self.action(entity) {
            Action::Allow => None,
            Action::Warn => Some(iron_safety::Mode::Warn),
            Action::Block => Some(iron_safety::Mode::Block),
            // (Pseudonymize is refused for replies when the policy is made.)
            Action::Redact | Action::Pseudonymize => Some(iron_safety::Mode::Redact),
        }
    }

    /// The action for the scanner's `mode`.
    #[must_use]
    pub fn action_of_mode(mode: iron_safety::Mode) -> Action {
        match mode {
            iron_safety::Mode::Redact => Action::Redact,
            iron_safety::Mode::Block => Action::Block,
            iron_safety::Mode::Warn => Action::Warn,
        }
    }

    /// `self` with `overrides` applied.
    fn with(self, overrides: &Value) -> Result<Self, String> {
        let mut policy = self;
        let Some(map) = overrides.as_object() else {
            return if overrides.is_null() {
                Ok(policy)
            } else {
                Err("the egress policy must be an object like {\"EMAIL\": \"redact\"}".into())
            };
        };
        for (entity, action) in map {
            let action = Action::parse(
                action
                    .as_str()
                    .ok_or_else(|| format!("the action for {entity} must be a string"))?,
            )?;
            if entity.eq_ignore_ascii_case("default") {
                policy.default = action;
            } else {
                let entity = entity.to_ascii_uppercase();
                policy.per_entity.retain(|(e, _)| *e != entity);
                policy.per_entity.push((entity, action));
            }
        }
        Ok(policy)
    }

    /// A Control Panel's policy: only what its map names (`{"EMAIL": "block",
    /// "default": "redact"}`), every other entity allowed; `null` or `{}` is none.
    ///
    /// # Errors
    /// As [`PiiPolicy::requests_from_json`].
    pub fn floor_from_json(map: &Value) -> Result<Option<Self>, String> {
        if map.is_null() {
            return Ok(None);
        }
        let policy = PiiPolicy::allow_all().with(map)?;
        Ok((!policy.is_off()).then_some(policy))
    }

    /// Per entity the stricter of `self` and `floor` (a Control Panel's policy is
    /// a floor the agent's own code cannot lower).
    #[must_use]
    pub fn at_least(&self, floor: &PiiPolicy) -> PiiPolicy {
        let stricter = |a: Action, b: Action| {
            if b.strictness() > a.strictness() {
                b
            } else {
                a
            }
        };
        let mut entities: Vec<&String> = self.per_entity.iter().map(|(e, _)| e).collect();
        for (e, _) in &floor.per_entity {
            if !entities.contains(&e) {
                entities.push(e);
            }
        }
        PiiPolicy {
            per_entity: entities
                .into_iter()
                .map(|e| (e.clone(), stricter(self.action(e), floor.action(e))))
                .collect(),
            default: stricter(self.default, floor.default),
        }
    }

    /// No entity found is acted on: every one allowed.
    #[must_use]
    pub fn allow_all() -> Self {
        PiiPolicy::uniform(Action::Allow)
    }

    /// `action` for every entity.
    #[must_use]
    pub fn uniform(action: Action) -> Self {
        PiiPolicy {
            per_entity: Vec::new(),
            default: action,
        }
    }

    /// The action for `entity`.
    #[must_use]
    pub fn action(&self, entity: &str) -> Action {
        self.per_entity
            .iter()
            .find(|(e, _)| e == entity)
            .map_or(self.default, |(_, a)| *a)
    }

    /// Whether every entity is allowed (then requests are not scanned at all).
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.default == Action::Allow && self.per_entity.iter().all(|(_, a)| *a == Action::Allow)
    }
}

/// The placeholders of one runtime: value ↔ `<ENTITY_n>`.
#[derive(Default)]
pub struct Pseudonyms {
    state: Mutex<PseudoState>,
}

#[derive(Default)]
struct PseudoState {
    by_value: HashMap<String, String>,
    by_token: HashMap<String, Zeroizing<String>>,
    counts: HashMap<String, u32>,
}

impl Drop for PseudoState {
    /// The values are the agent's PII: wiped, not just freed.
    fn drop(&mut self) {
        for (mut value, _) in self.by_value.drain() {
            zeroize::Zeroize::zeroize(&mut value);
        }
    }
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonyms({} held)", self.len())
    }
}

/// The longest placeholder the reply scanner must hold back for (`<` + name + `_` + number + `>`).
pub const MAX_PLACEHOLDER: usize = 40;

impl Pseudonyms {
    /// How many values are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_token.len()
    }

    /// Whether none are held (then replies need no restoring).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PseudoState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The placeholder of `value` (a new one the first time it is seen).
    fn token_for(&self, entity: &str, value: &str) -> String {
        let mut st = self.lock();
        if let Some(t) = st.by_value.get(value) {
            return t.clone();
        }
        let n = st.counts.entry(entity.to_owned()).or_insert(0);
        *n += 1;
        let token = format!("<{entity}_{n}>");
        st.by_value.insert(value.to_owned(), token.clone());
        st.by_token
            .insert(token.clone(), Zeroizing::new(value.to_owned()));
        token
    }

    /// `text` with every placeholder this runtime made put back; `None` when
    /// there was none.
    #[must_use]
    pub fn restore(&self, text: &str) -> Option<String> {
        if !text.contains('<') {
            return None;
        }
        let st = self.lock();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(open) = rest.find('<') {
            let tail = &rest[open..];
            let close = tail.find('>').filter(|&c| c <= MAX_PLACEHOLDER);
            match close.and_then(|c| st.by_token.get(&tail[..=c]).map(|v| (c, v))) {
                Some((c, value)) => {
                    out.push_str(&rest[..open]);
                    out.push_str(value);
                    rest = &tail[c + 1..];
                    changed = true;
                }
                None => {
                    out.push_str(&rest[..=open]);
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        changed.then_some(out)
    }
}

impl Pseudonyms {
    /// Restores placeholders in a raw JSON reply without parsing it, when that
    /// is exact: `Some(None)` when there is none, `Some(Some(body))` restored,
    /// `None` when the tree must do it (a `<` written as `\u003c`, or a value
    /// that would need escaping, such as a quote or a line break: inside a
    /// tool call's JSON-encoded arguments it would need escaping twice).
    #[must_use]
    pub fn restore_raw(&self, body: &[u8]) -> Option<Option<Vec<u8>>> {
        if memchr::memchr(b'<', body).is_none() {
            return (memchr::memmem::find(body, b"\\u003c").is_none()).then_some(None);
        }
        if memchr::memmem::find(body, b"\\u003c").is_some() {
            return None;
        }
        let st = self.lock();
        let mut out = Vec::with_capacity(body.len() + 64);
        let mut last = 0;
        for open in memchr::memchr_iter(b'<', body) {
            if open < last {
                continue;
            }
            let tail = &body[open..body.len().min(open + MAX_PLACEHOLDER + 1)];
            let Some(close) = memchr::memchr(b'>', tail) else {
                continue;
            };
            let Some(value) = std::str::from_utf8(&tail[..=close])
                .ok()
                .and_then(|token| st.by_token.get(token))
            else {
                continue;
            };
            if value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
                return None;
            }
            out.extend_from_slice(&body[last..open]);
            out.extend_from_slice(value.as_bytes());
            last = open + close + 1;
        }
        if last == 0 {
            return Some(None);
        }
        out.extend_from_slice(&body[last..]);
        Some(Some(out))
    }

    /// Restores placeholders in every string of `value` (tool-call arguments):
    /// a string holding JSON (`"{\"to\": \"<EMAIL_1>\"}"`) is restored inside
    /// and encoded again, so a value with quotes stays valid JSON. True when
    /// anything changed.
    pub fn restore_value(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => {
                if !s.contains('<') {
                    return false;
                }
                if let Ok(mut inner @ (Value::Object(_) | Value::Array(_))) =
                    serde_json::from_str::<Value>(s)
                {
                    if self.restore_value(&mut inner) {
                        *s = inner.to_string();
                        return true;
                    }
                    return false;
                }
                match self.restore(s) {
                    Some(back) => {
                        *s = back;
                        true
                    }
                    None => false,
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.restore_value(v) | changed),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |changed, v| self.restore_value(v) | changed),
            _ => false,
        }
    }
}

/// Restores placeholders in a stream of text pieces, holding back a piece's
/// tail that may be the start of a placeholder split across pieces.
#[derive(Debug, Default)]
pub struct StreamRestorer {
    held: String,
}

impl StreamRestorer {
    /// The restored text to emit for `piece`.
    pub fn feed(&mut self, names: &Pseudonyms, piece: &str) -> String {
        self.held.push_str(piece);
        // Hold back from the last `<` that has no `>` after it, if it is recent.
        let cut = match self.held.rfind('<') {
            Some(i) if !self.held[i..].contains('>') && self.held.len() - i < MAX_PLACEHOLDER => i,
            _ => self.held.len(),
        };
        let ready: String = self.held.drain(..cut).collect();
        names.restore(&ready).unwrap_or(ready)
    }

    /// The rest, at the end of the output.
    pub fn finish(&mut self, names: &Pseudonyms) -> String {
        let rest = std::mem::take(&mut self.held);
        names.restore(&rest).unwrap_or(rest)
    }
}

/// What the policy did to one request.
#[derive(Debug, Default)]
pub struct Applied {
    /// Each finding and the action taken.
    pub findings: Vec<(Finding, Action)>,
    /// Whether the text changed (redacted or pseudonymized).
    pub changed: bool,
}

impl Applied {
    /// The first finding whose action is `block`.
    #[must_use]
    pub fn blocked(&self) -> Option<&Finding> {
        self.findings
            .iter()
            .find(|(_, a)| *a == Action::Block)
            .map(|(f, _)| f)
    }
}

/// Applies `policy` to the findings in `text`: the text to send instead when
/// anything was replaced (`None`: send it as it is), the findings and their
/// actions (not `allow`) recorded in `applied`.
pub fn apply_to_str(
    text: &str,
    scanner: &Scanner,
    policy: &PiiPolicy,
    names: &Pseudonyms,
    applied: &mut Applied,
) -> Option<String> {
    let findings = scanner.find(text);
    if findings.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    for f in findings {
        let action = policy.action(&f.entity);
        out.push_str(&text[last..f.start]);
        let value = &text[f.start..f.end];
        match action {
            Action::Redact => {
                out.push_str(&scanner.redact(
                    value,
                    &[Finding {
                        start: 0,
                        end: value.len(),
                        ..f.clone()
                    }],
                ));
                changed = true;
            }
            Action::Pseudonymize => {
                out.push_str(&names.token_for(&f.entity, value));
                changed = true;
            }
            Action::Allow | Action::Warn | Action::Block => out.push_str(value),
        }
        last = f.end;
        if action != Action::Allow {
            applied.findings.push((f, action));
        }
    }
    out.push_str(&text[last..]);
    if changed {
        applied.changed = true;
    }
    changed.then_some(out)
}

/// [`apply_to_str`] in place: whether `text` changed.
pub fn apply_to_text(
    text: &mut String,
    scanner: &Scanner,
    policy: &PiiPolicy,
    names: &Pseudonyms,
    applied: &mut Applied,
) -> bool {
    match apply_to_str(text, scanner, policy, names, applied) {
        Some(out) => {
            *text = out;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iron_safety::ScannerConfig;

    fn scanner() -> Scanner {
        Scanner::new(ScannerConfig {
            hmac_key: b"k".to_vec(),
            ..ScannerConfig::default()
        })
        .expect("scanner")
    }

    #[test]
    fn raw_restoration_is_used_only_where_it_is_exact() {
        let names = Pseudonyms::default();
        let a = names.token_for("EMAIL", "jane@example.com");
        let b = names.token_for("API_KEY", "line one\nline \"two\"");
        let body = format!(r#"{{"t": "to {a}, <EMAIL_9> stays", "args": "{{\"to\": \"{a}\"}}"}}"#);
        let out = names
            .restore_raw(body.as_bytes())
            .expect("exact")
            .expect("restored");
        let v: Value = serde_json::from_slice(&out).expect("still JSON");
        assert_eq!(v["t"], "to jane@example.com, <EMAIL_9> stays");
        let args: Value = serde_json::from_str(v["args"].as_str().expect("str")).expect("JSON");
        assert_eq!(args["to"], "jane@example.com");
        // A value with a quote or a line break is left to the tree; so is an escaped `<`.
        assert_eq!(
            names.restore_raw(format!(r#"{{"t": "{b}"}}"#).as_bytes()),
            None
        );
        assert_eq!(names.restore_raw(br#"{"t": "\u003cEMAIL_1>"}"#), None);
        assert_eq!(names.restore_raw(br#"{"t": "nothing"}"#), Some(None));
        assert_eq!(names.restore_raw(br#"{"t": "a < b"}"#), Some(None));
    }

    #[test]
    fn placeholders_are_stable_and_restored() {
        let (s, names, policy) = (scanner(), Pseudonyms::default(), PiiPolicy::requests());
        let mut applied = Applied::default();
        let mut a =
            "Mail jane.roe@example.com and bob@example.org, then jane.roe@example.com.".to_owned();
        apply_to_text(&mut a, &s, &policy, &names, &mut applied);
        assert_eq!(a, "Mail <EMAIL_1> and <EMAIL_2>, then <EMAIL_1>.");
        assert!(applied.changed && applied.blocked().is_none());
        let mut b = "again jane.roe@example.com".to_owned();
        apply_to_text(&mut b, &s, &policy, &names, &mut Applied::default());
        assert_eq!(b, "again <EMAIL_1>", "the same value, the same placeholder");
        assert_eq!(
            names
                .restore("Sure: <EMAIL_2> then <EMAIL_1> (not <EMAIL_9>)")
                .as_deref(),
            Some("Sure: bob@example.org then jane.roe@example.com (not <EMAIL_9>)")
        );
        assert!(!format!("{names:?}").contains("jane"));
    }

    #[test]
    fn credentials_are_blocked_and_the_policy_overrides() {
        let s = scanner();
        let mut applied = Applied::default();
        let mut t = "key sk-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf01".to_owned();
        apply_to_text(
            &mut t,
            &s,
            &PiiPolicy::requests(),
            &Pseudonyms::default(),
            &mut applied,
        );
        assert_eq!(
            applied.blocked().map(|f| f.entity.as_str()),
            Some("API_KEY")
        );
        let policy = PiiPolicy::requests_from_json(
            &serde_json::json!({"EMAIL": "redact", "default": "warn"}),
        )
        .expect("valid");
        let mut t = "a@b.co or call (415) 555-2671".to_owned();
        let mut applied = Applied::default();
        apply_to_text(&mut t, &s, &policy, &Pseudonyms::default(), &mut applied);
        assert_eq!(t, "[EMAIL_REDACTED] or call (415) 555-2671");
        assert_eq!(applied.findings.len(), 2);
        assert!(PiiPolicy::requests_from_json(&serde_json::json!({"EMAIL": "shred"})).is_err());
    }

    #[test]
    fn a_control_panel_floor_only_ever_tightens() {
        use serde_json::json;
        assert_eq!(PiiPolicy::floor_from_json(&Value::Null), Ok(None));
        assert_eq!(PiiPolicy::floor_from_json(&json!({})), Ok(None));
        assert_eq!(
            PiiPolicy::floor_from_json(&json!({"EMAIL": "allow"})),
            Ok(None)
        );
        let floor = PiiPolicy::floor_from_json(&json!({"email": "block", "PHONE": "warn"}))
            .expect("valid")
            .expect("a floor");
        assert_eq!(floor.action("EMAIL"), Action::Block);
        assert_eq!(floor.action("IBAN"), Action::Allow);
        // Over the default policy: e-mail blocked, phone stays pseudonymized (stricter than warn).
        let local = PiiPolicy::requests().at_least(&floor);
        assert_eq!(local.action("EMAIL"), Action::Block);
        assert_eq!(local.action("PHONE"), Action::Pseudonymize);
        assert_eq!(local.action("API_KEY"), Action::Block);
        // Over a policy that allows everything (requests not scanned locally).
        let open = PiiPolicy::allow_all().at_least(&floor);
        assert_eq!(open.action("PHONE"), Action::Warn);
        assert_eq!(open.action("IBAN"), Action::Allow);
        assert!(!open.is_off());
        // The floor's default covers every entity it does not name.
        let strict = PiiPolicy::floor_from_json(&json!({"default": "redact"}))
            .expect("valid")
            .expect("a floor");
        let merged = PiiPolicy::requests_from_json(&json!({"EMAIL": "warn"}))
            .expect("valid")
            .at_least(&strict);
        assert_eq!(merged.action("EMAIL"), Action::Redact);
        assert_eq!(merged.action("API_KEY"), Action::Block);
        assert_eq!(merged.action("IBAN"), Action::Redact);
        assert!(PiiPolicy::floor_from_json(&json!({"EMAIL": "shred"})).is_err());
    }

    #[test]
    fn a_placeholder_split_across_pieces_is_restored() {
        let (s, names) = (scanner(), Pseudonyms::default());
        let mut t = "x@example.com".to_owned();
        apply_to_text(
            &mut t,
            &s,
            &PiiPolicy::requests(),
            &names,
            &mut Applied::default(),
        );
        let reply = "Write to <EMAIL_1> today <EMAIL_1>.";
        for size in 1..reply.len() {
            let mut r = StreamRestorer::default();
            let mut out = String::new();
            for piece in reply.as_bytes().chunks(size) {
                out.push_str(&r.feed(&names, std::str::from_utf8(piece).expect("ascii")));
            }
            out.push_str(&r.finish(&names));
            assert_eq!(
                out, "Write to x@example.com today x@example.com.",
                "pieces of {size}"
            );
        }
    }
}
