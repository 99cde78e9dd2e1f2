//! One pass over the text for every pattern, then validators.
//!
//! All patterns (built-in and user-defined) are compiled into ONE multi-pattern
//! automaton. Each candidate start it reports is re-examined with every enabled
//! pattern anchored there; the longest validated match wins (ties: higher
//! severity, then pattern order), and the scan continues after it. A start with
//! no valid match moves on by one character, so an invalid candidate (a
//! Luhn-failing card) cannot hide a valid one inside it.

use std::collections::HashSet;

use hmac::{Hmac, KeyInit, Mac};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind, PatternID, PatternSet};
use sha2::Sha256;

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
    regex: Regex,
    /// The same patterns with `MatchKind::All`: one anchored search tells which
    /// patterns match at a candidate start, so only those are re-searched.
    which: Regex,
    kinds: Vec<Kind>,
    enabled: Vec<bool>,
    mode: Mode,
    allow_domains: Vec<String>,
    allow_values: HashSet<String>,
    /// Keyed once; cloned per finding (cloning skips the key schedule).
    hmac: Hmac<Sha256>,
    pem_pattern: Option<PatternID>,
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
            let probe = regex_automata::meta::Regex::new(&c.pattern)
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
            patterns.push(c.pattern);
        }
        let build = |kind: MatchKind| {
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .configure(Regex::config().match_kind(kind))
                .build_many(&patterns)
                .map_err(|e| SafetyError::Config(format!("cannot compile the patterns: {e}")))
        };
        let regex = build(MatchKind::LeftmostFirst)?;
        let which = build(MatchKind::All)?;
        Ok(Scanner {
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
        })
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
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut pos = from;
        while pos < until {
            let Some(m) = self.regex.search(&Input::new(bytes).span(pos..bytes.len())) else {
                break;
            };
            let start = m.start();
            if start >= until {
                break;
            }
            match self.best_at(text, start) {
                Some((kind, end)) => {
                    let value = &text[start..end];
                    if !self.allowed(kind, value) {
                        out.push(Finding {
                            entity: kind.name().to_owned(),
                            start,
                            end,
                            severity: kind.severity(),
                            value_hmac: self.hmac_hex(value),
                        });
                    }
                    pos = end;
                }
                None => pos = next_char(text, start),
            }
        }
        out
    }

    /// Patterns that match anchored at `start` (one search over all of them).
    fn matching_at(&self, bytes: &[u8], start: usize) -> PatternSet {
        let mut set = PatternSet::new(self.which.pattern_len());
        let input = Input::new(bytes)
            .span(start..bytes.len())
            .anchored(Anchored::Yes);
        self.which.which_overlapping_matches(&input, &mut set);
        set
    }

    /// The longest validated match starting at `start`.
    fn best_at(&self, text: &str, start: usize) -> Option<(&Kind, usize)> {
        let bytes = text.as_bytes();
        let mut best: Option<(&Kind, usize)> = None;
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
            let candidate = &text[start..m.end()];
            let len = match kind {
                Kind::Builtin(e) => entities::validate(*e, candidate)
                    .filter(|&n| entities::context_ok(*e, text, start, start + n)),
                Kind::Custom { .. } => Some(candidate.len()),
            };
            if let Some(len) = len {
                let end = start + len;
                let better = best
                    .is_none_or(|(k, e)| end > e || (end == e && kind.severity() > k.severity()));
                if better {
                    best = Some((kind, end));
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
        let mut pos = from;
        while pos < cut {
            let m = self
                .regex
                .search(&Input::new(bytes).span(pos..bytes.len()))?;
            if m.start() >= cut {
                return None;
            }
            let start = m.start();
            let longest = self
                .matching_at(bytes, start)
                .iter()
                .filter_map(|pid| {
                    let input = Input::new(bytes)
                        .span(start..bytes.len())
                        .anchored(Anchored::Pattern(pid));
                    self.regex.search(&input).map(|mm| mm.end())
                })
                .max()
                .unwrap_or(m.end());
            if longest > cut {
                return Some(start);
            }
            pos = next_char(text, start);
        }
        None
    }
}

fn next_char(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(text.len(), |c| at + c.len_utf8())
}
