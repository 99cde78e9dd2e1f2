//! One pass over the text for every pattern, then validators.
//!
//! All patterns (built-in and user-defined) are compiled into ONE multi-pattern
//! automaton. Candidate starts come from one pass of literal and trigger-byte
//! searches (`candidates`); each is examined with every enabled pattern
//! anchored there; the longest validated match wins (ties: higher severity,
//! then pattern order), and the scan continues after it. A start with no valid
//! match moves on by one character, so an invalid candidate (a Luhn-failing
//! card) cannot hide a valid one inside it.

use std::collections::HashSet;
use std::panic::{RefUnwindSafe, UnwindSafe};

use hmac::{Hmac, KeyInit, Mac};
use regex_automata::hybrid;
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind, PatternID, PatternSet};
use sha2::Sha256;

use crate::candidates::Finder;
use crate::entities;
use crate::entity::{Entity, Severity};
use crate::error::SafetyError;

/// What to do with findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace each finding with its token (default).
    Redact,
    /// Refuse the whole text.
    Block,
    /// Report findings, leave the text unchanged.
    Warn,
}

impl Mode {
    /// `redact`, `block` or `warn`.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> Result<Self, SafetyError> {
        match s {
            "redact" => Ok(Mode::Redact),
            "block" => Ok(Mode::Block),
            "warn" => Ok(Mode::Warn),
            other => Err(SafetyError::Config(format!(
                "unknown safety mode {other:?}: use \"redact\", \"block\" or \"warn\""
            ))),
        }
    }
}

/// A user-defined pattern.
#[derive(Debug, Clone)]
pub struct CustomPattern {
    /// Entity name reported in findings (e.g. `EMPLOYEE_ID`); the token is `[NAME_REDACTED]`.
    pub name: String,
    /// Regular expression (regex crate syntax).
    pub pattern: String,
    /// Severity of a finding.
    pub severity: Severity,
}

/// Scanner settings.
#[derive(Debug, Clone)]
pub struct ScannerConfig {
    /// What to do with findings.
    pub mode: Mode,
    /// Built-in entities to detect (`None`: all).
    pub entities: Option<Vec<Entity>>,
    /// Email domains never reported (`company.com` also covers `mail.company.com`).
    pub allow_domains: Vec<String>,
    /// Exact values never reported.
    pub allow_values: Vec<String>,
    /// Extra patterns.
    pub custom: Vec<CustomPattern>,
    /// Key for the findings' HMAC-SHA256.
    pub hmac_key: Vec<u8>,
}

/// The regions whose national phone formats (without a country code) can be
/// read: [`Scanner::with_phone_regions`].
pub const PHONE_REGIONS: &[&str] = &[
    "GB", "DE", "FR", "ES", "IT", "NL", "AU", "BE", "CH", "IN", "JP", "BR",
];

/// The regions read when none are configured.
pub const DEFAULT_PHONE_REGIONS: &[&str] = &["GB", "DE", "FR", "ES", "IT", "NL"];

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            mode: Mode::Redact,
            entities: None,
            allow_domains: Vec::new(),
            allow_values: Vec::new(),
            custom: Vec::new(),
            hmac_key: Vec::new(),
        }
    }
}

/// What a pattern reports as.
#[derive(Debug, Clone)]
enum Kind {
    Builtin(Entity),
    Custom {
        name: String,
        token: String,
        severity: Severity,
    },
}

impl Kind {
    fn name(&self) -> &str {
        match self {
            Kind::Builtin(e) => e.name(),
            Kind::Custom { name, .. } => name,
        }
    }
    fn severity(&self) -> Severity {
        match self {
            Kind::Builtin(e) => e.severity(),
            Kind::Custom { severity, .. } => *severity,
        }
    }
    fn token(&self) -> &str {
        match self {
            Kind::Builtin(e) => e.token(),
            Kind::Custom { token, .. } => token,
        }
    }
}

/// One detected value. Offsets are byte offsets into the scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Entity name.
    pub entity: String,
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
    /// Severity.
    pub severity: Severity,
    /// Hex HMAC-SHA256 of the value under the configured key, never the value itself.
    pub value_hmac: String,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// Redacted text (redact), the original (warn), or empty (block with findings).
    pub text: String,
    /// What was found.
    pub findings: Vec<Finding>,
    /// Whether block mode refused the text.
    pub blocked: bool,
}

/// A compiled scanner. Cheap to share between threads.
#[derive(Debug)]
pub struct Scanner {
    pub(crate) regex: Regex,
    /// Where matches can start (see `candidates`).
    pub(crate) finder: Finder,
    /// The same patterns as a lazy DFA with `MatchKind::All`: one anchored search tells which
    /// patterns match at a candidate start, so only those are re-searched.
    which: Which,
    kinds: Vec<Kind>,
    enabled: Vec<bool>,
    mode: Mode,
    allow_domains: Vec<String>,
    allow_values: HashSet<String>,
    /// Keyed once; cloned per finding (cloning skips the key schedule).
    hmac: Hmac<Sha256>,
    pem_pattern: Option<PatternID>,
    rules: entities::Rules,
}

impl Scanner {
    /// Compiles the scanner.
    ///
    /// # Errors
    /// A custom pattern that does not compile or matches the empty string.
    pub fn new(config: ScannerConfig) -> Result<Self, SafetyError> {
        let mut kinds = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let enabled_set: Option<HashSet<Entity>> = config.entities.map(|v| v.into_iter().collect());
        let mut enabled = Vec::new();
        let mut pem_pattern = None;
        let mut custom_patterns: Vec<String> = Vec::new();
        for (entity, p) in entities::builtin_patterns() {
            if p.starts_with("-----BEGIN") {
                pem_pattern = Some(PatternID::new_unchecked(patterns.len()));
            }
            kinds.push(Kind::Builtin(entity));
            enabled.push(enabled_set.as_ref().is_none_or(|s| s.contains(&entity)));
            patterns.push(p.to_owned());
        }
        for c in config.custom {
            let name = c.name.trim().to_ascii_uppercase();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(SafetyError::Config(format!(
                    "custom entity name {:?} must be letters, digits and _",
                    c.name
                )));
            }
            // Compiled as the scanner compiles it: bytes, ASCII classes and `\b`.
            let probe = Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(&c.pattern)
                .map_err(|e| SafetyError::Config(format!("custom pattern {name}: {e}")))?;
            if probe.is_match("") {
                return Err(SafetyError::Config(format!("custom pattern {name} matches the empty string; it must match at least one character")));
            }
            kinds.push(Kind::Custom {
                token: format!("[{name}_REDACTED]"),
                name,
                severity: c.severity,
            });
            enabled.push(true);
            custom_patterns.push(c.pattern.clone());
            patterns.push(c.pattern);
        }
        let build = |kind: MatchKind, patterns: &[String]| {
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .configure(Regex::config().match_kind(kind))
                .build_many(patterns)
                .map_err(|e| SafetyError::Config(format!("cannot compile the patterns: {e}")))
        };
        let regex = build(MatchKind::LeftmostFirst, &patterns)?;
        let which = Which::new(&patterns)?;
        let custom = if custom_patterns.is_empty() {
            None
        } else {
            Some(build(MatchKind::LeftmostFirst, &custom_patterns)?)
        };
        Ok(Scanner {
            finder: Finder::new(custom, regex.clone()),
            regex,
            which,
            kinds,
            enabled,
            mode: config.mode,
            allow_domains: config
                .allow_domains
                .into_iter()
                .map(|d| d.trim_start_matches('@').to_ascii_lowercase())
                .collect(),
            allow_values: config.allow_values.into_iter().collect(),
            hmac: Hmac::<Sha256>::new_from_slice(&config.hmac_key)
                .map_err(|_| SafetyError::Config("the HMAC key cannot be used".into()))?,
            pem_pattern,
            rules: entities::Rules::default(),
        })
    }

    /// The same scanner reading the national phone formats (numbers written
    /// without a country code) of exactly these regions, ISO 3166 codes from
    /// [`PHONE_REGIONS`]; [`DEFAULT_PHONE_REGIONS`] when never set. North
    /// American and international (`+`, `00`) numbers are always read.
    ///
    /// # Errors
    /// A code that is not in [`PHONE_REGIONS`].
    pub fn with_phone_regions<I, S>(mut self, regions: I) -> Result<Self, SafetyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Vec::new();
        for code in regions {
            let code = code.as_ref();
            set.push(entities::phone::Region::parse(code).ok_or_else(|| {
                SafetyError::Config(format!(
                    "unknown phone region {code:?}; known: {}",
                    PHONE_REGIONS.join(", ")
                ))
            })?);
        }
        self.rules.phone_regions = entities::phone::Regions::of(set);
        Ok(self)
    }

    /// The regions whose national phone formats are read.
    #[must_use]
    pub fn phone_regions(&self) -> Vec<&'static str> {
        self.rules.phone_regions.iter().map(|r| r.code()).collect()
    }

    /// The configured mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Findings in `text`, in order, non-overlapping.
    #[must_use]
    pub fn find(&self, text: &str) -> Vec<Finding> {
        self.find_range(text, 0, text.len())
    }

    /// Findings that start in `from..until`, judged with all of `text` as
    /// context (word boundaries and neighbours on both sides), so a segment of
    /// a stream is scanned exactly as it would be inside the whole text.
    #[must_use]
    pub fn find_range(&self, text: &str, from: usize, until: usize) -> Vec<Finding> {
        let mut out = Vec::new();
        self.find_range_anchored(text, from, until, |f, _| out.push(f));
        out
    }

    /// [`Scanner::find_range`], also telling where each finding's match
    /// starts (before the finding when a label leads it: `SSN 536228726`).
    pub(crate) fn find_range_anchored(
        &self,
        text: &str,
        from: usize,
        until: usize,
        push: impl FnMut(Finding, usize),
    ) {
        let mut candidates = self.finder.cursor(text.as_bytes());
        self.find_from(text, from, until, |pos| candidates.next(pos), push);
    }

    /// [`Scanner::find`] with every start found by running the unanchored
    /// automaton over the whole text: the reference the candidate search is
    /// tested against (same findings, slower).
    #[doc(hidden)]
    #[must_use]
    pub fn find_by_full_scan(&self, text: &str) -> Vec<Finding> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        self.find_from(
            text,
            0,
            text.len(),
            |pos| {
                self.regex
                    .search(&Input::new(bytes).span(pos..bytes.len()))
                    .map(|m| m.start())
            },
            |f, _| out.push(f),
        );
        out
    }

    fn find_from(
        &self,
        text: &str,
        from: usize,
        until: usize,
        mut next_start: impl FnMut(usize) -> Option<usize>,
        mut push: impl FnMut(Finding, usize),
    ) {
        let mut pos = from;
        while pos < until {
            let Some(start) = next_start(pos) else {
                break;
            };
            if start >= until {
                break;
            }
            match self.best_at(text, start) {
                Some((kind, s, end)) => {
                    let value = &text[s..end];
                    if !self.allowed(kind, value) {
                        let finding = Finding {
                            entity: kind.name().to_owned(),
                            start: s,
                            end,
                            severity: kind.severity(),
                            value_hmac: self.hmac_hex(value),
                        };
                        push(finding, start);
                    }
                    pos = end;
                }
                None => pos = next_char(text, start),
            }
        }
    }

    /// Patterns that match anchored at `start` (one search over all of them).
    pub(crate) fn matching_at(&self, bytes: &[u8], start: usize) -> PatternSet {
        self.which.matching_at(bytes, start)
    }

    /// The longest validated match starting at `start`: its kind and the
    /// span of the value (which a label may precede).
    fn best_at(&self, text: &str, start: usize) -> Option<(&Kind, usize, usize)> {
        let bytes = text.as_bytes();
        let mut best: Option<(&Kind, usize, usize)> = None;
        for pid in self.matching_at(bytes, start).iter() {
            let i = pid.as_usize();
            let kind = &self.kinds[i];
            if !self.enabled[i] {
                continue;
            }
            let input = Input::new(bytes)
                .span(start..bytes.len())
                .anchored(Anchored::Pattern(pid));
            let Some(m) = self.regex.search(&input) else {
                continue;
            };
            if m.is_empty() || !text.is_char_boundary(m.end()) {
                continue;
            }
            let span = match kind {
                Kind::Builtin(e) => entities::validate(*e, text, start, m.end(), &self.rules),
                Kind::Custom { .. } => Some((start, m.end())),
            };
            if let Some((s, end)) = span {
                let better = best.is_none_or(|(k, _, e)| {
                    end > e || (end == e && kind.severity() > k.severity())
                });
                if better {
                    best = Some((kind, s, end));
                }
            }
        }
        best
    }

    fn allowed(&self, kind: &Kind, value: &str) -> bool {
        if self.allow_values.contains(value) {
            return true;
        }
        if matches!(kind, Kind::Builtin(Entity::Email)) {
            if let Some((_, domain)) = value.rsplit_once('@') {
                let domain = domain.to_ascii_lowercase();
                return self
                    .allow_domains
                    .iter()
                    .any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
            }
        }
        false
    }

    fn hmac_hex(&self, value: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.hmac.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(64);
        for b in digest.iter() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Scans and applies a mode per entity: `mode_of(entity)` says what to do
    /// with its findings (`None`: allowed, not reported). The text is refused
    /// when any finding's mode is block; else the redact ones are replaced.
    #[must_use]
    pub fn scan_as(&self, text: &str, mode_of: &dyn Fn(&str) -> Option<Mode>) -> ScanResult {
        let mut findings = self.find(text);
        findings.retain(|f| mode_of(&f.entity).is_some());
        if findings
            .iter()
            .any(|f| mode_of(&f.entity) == Some(Mode::Block))
        {
            return ScanResult {
                text: String::new(),
                findings,
                blocked: true,
            };
        }
        let redacted: Vec<Finding> = findings
            .iter()
            .filter(|f| mode_of(&f.entity) == Some(Mode::Redact))
            .cloned()
            .collect();
        ScanResult {
            text: if redacted.is_empty() {
                text.to_owned()
            } else {
                self.redact(text, &redacted)
            },
            findings,
            blocked: false,
        }
    }

    /// Scans and applies the mode.
    #[must_use]
    pub fn scan(&self, text: &str) -> ScanResult {
        let findings = self.find(text);
        match self.mode {
            Mode::Warn => ScanResult {
                text: text.to_owned(),
                findings,
                blocked: false,
            },
            Mode::Block if !findings.is_empty() => ScanResult {
                text: String::new(),
                findings,
                blocked: true,
            },
            Mode::Block => ScanResult {
                text: text.to_owned(),
                findings,
                blocked: false,
            },
            Mode::Redact => ScanResult {
                text: self.redact(text, &findings),
                findings,
                blocked: false,
            },
        }
    }

    /// `text` with every finding replaced by its entity's token.
    #[must_use]
    pub fn redact(&self, text: &str, findings: &[Finding]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in findings {
            out.push_str(&text[last..f.start]);
            out.push_str(self.token_of(&f.entity));
            last = f.end;
        }
        out.push_str(&text[last..]);
        out
    }

    fn token_of(&self, entity: &str) -> &str {
        self.kinds
            .iter()
            .find(|k| k.name() == entity)
            .map_or("[PII_REDACTED]", Kind::token)
    }

    /// Where an unfinished PEM block starts in `text`, if one does (streaming holds it back).
    pub(crate) fn open_pem_start(&self, text: &str) -> Option<usize> {
        self.pem_pattern?;
        let begin = text.rfind("-----BEGIN")?;
        (!text[begin..].contains("-----END")).then_some(begin)
    }

    /// The start of the earliest candidate (validated or not) that begins in
    /// `from..cut` and ends after `cut`, for streaming.
    pub(crate) fn earliest_candidate_crossing(
        &self,
        text: &str,
        from: usize,
        cut: usize,
    ) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut candidates = self.finder.cursor(bytes);
        let mut pos = from;
        while pos < cut {
            let start = candidates.next(pos)?;
            if start >= cut {
                return None;
            }
            let longest = self
                .matching_at(bytes, start)
                .iter()
                .filter_map(|pid| {
                    let input = Input::new(bytes)
                        .span(start..bytes.len())
                        .anchored(Anchored::Pattern(pid));
                    self.regex.search(&input).map(|mm| mm.end())
                })
                .max();
            if longest.is_some_and(|end| end > cut) {
                return Some(start);
            }
            pos = next_char(text, start);
        }
        None
    }
}

/// Which patterns match at a position: an anchored overlapping search of a
/// lazy DFA over every pattern.
///
/// regex-automata 0.4.18 can report patterns that do not match when the lazy
/// DFA's cache is cleared during an overlapping search (seen on long texts
/// dense in candidates; a test below reproduces it). A search during which the
/// cache was cleared is therefore not trusted: every pattern is returned and
/// `best_at` checks each one anchored, which is exact. Clears are rare (the
/// cache keeps the states of earlier searches), so this costs nothing on
/// ordinary text.
struct Which {
    dfa: hybrid::dfa::DFA,
    caches: Pool<hybrid::dfa::Cache, CacheFn>,
}

type CacheFn = Box<dyn Fn() -> hybrid::dfa::Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

impl std::fmt::Debug for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Which")
            .field("patterns", &self.dfa.pattern_len())
            .finish()
    }
}

impl Which {
    fn new(patterns: &[String]) -> Result<Self, SafetyError> {
        let dfa = hybrid::dfa::DFA::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .configure(hybrid::dfa::DFA::config().match_kind(MatchKind::All))
            .build_many(patterns)
            .map_err(|e| SafetyError::Config(format!("cannot compile the patterns: {e}")))?;
        let for_caches = dfa.clone();
        Ok(Which {
            dfa,
            caches: Pool::new(Box::new(move || for_caches.create_cache())),
        })
    }

    fn matching_at(&self, bytes: &[u8], start: usize) -> PatternSet {
        let mut set = PatternSet::new(self.dfa.pattern_len());
        let input = Input::new(bytes)
            .span(start..bytes.len())
            .anchored(Anchored::Yes);
        let mut cache = self.caches.get();
        let clears = cache.clear_count();
        let searched = self
            .dfa
            .try_which_overlapping_matches(&mut cache, &input, &mut set);
        if searched.is_err() || cache.clear_count() != clears {
            for i in 0..self.dfa.pattern_len() {
                let _ = set.try_insert(PatternID::new_unchecked(i));
            }
        }
        set
    }
}

fn next_char(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(text.len(), |c| at + c.len_utf8())
}
