//! Scanning streamed text (LLM output arriving in chunks) with a bounded hold-back.
//!
//! `feed(chunk)` returns the text that is safe to emit now: everything except
//! the last [`HOLD_BACK`] bytes, and never the start of a candidate that could
//! still be growing. An unfinished PEM private-key block is held from its
//! `-----BEGIN` until its `-----END` (up to [`PEM_LIMIT`] bytes). `finish()`
//! scans and returns the rest. Because no entity match is longer than the
//! hold-back, a value split across chunks is seen whole, and the output equals
//! scanning the whole text at once.

use std::sync::Arc;

use crate::scanner::{Finding, Mode, Scanner};

/// Bytes always held back: longer than any entity except PEM blocks.
pub const HOLD_BACK: usize = 512;
/// Longest PEM block the stream holds back for.
pub const PEM_LIMIT: usize = 16 * 1024;

/// What to do with an entity's findings (`None`: allowed, not reported).
pub type ModeOf = Arc<dyn Fn(&str) -> Option<Mode> + Send + Sync>;

/// A streaming scan in progress.
pub struct StreamScanner {
    scanner: Arc<Scanner>,
    /// A mode per entity (`None`: the scanner's mode for every one).
    modes: Option<ModeOf>,
    /// The last bytes already emitted (original text): left context for the next segment.
    context: String,
    buffer: String,
    emitted: usize,
    findings: Vec<Finding>,
    blocked: bool,
}

impl std::fmt::Debug for StreamScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamScanner")
            .field("per_entity_modes", &self.modes.is_some())
            .field("held", &self.buffer.len())
            .field("emitted", &self.emitted)
            .field("findings", &self.findings.len())
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl StreamScanner {
    /// A new stream over `scanner`.
    #[must_use]
    pub fn new(scanner: Arc<Scanner>) -> Self {
        StreamScanner::with_modes(scanner, None)
    }

    /// A new stream over `scanner` with a mode per entity (`None`: the scanner's).
    #[must_use]
    pub fn with_modes(scanner: Arc<Scanner>, modes: Option<ModeOf>) -> Self {
        StreamScanner {
            scanner,
            modes,
            context: String::new(),
            buffer: String::new(),
            emitted: 0,
            findings: Vec::new(),
            blocked: false,
        }
    }

    /// Findings so far, offsets relative to the whole stream.
    #[must_use]
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Whether block mode has refused the stream.
    #[must_use]
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// Adds a chunk; returns the text safe to emit now.
    pub fn feed(&mut self, chunk: &str) -> String {
        self.buffer.push_str(chunk);
        if self.blocked {
            return String::new();
        }
        let mut cut = self.buffer.len().saturating_sub(HOLD_BACK);
        while !self.buffer.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(pem) = self.scanner.open_pem_start(&self.buffer) {
            if self.buffer.len() - pem <= PEM_LIMIT {
                cut = cut.min(pem);
            }
        }
        let ctx = self.context.len();
        let whole = format!("{}{}", self.context, self.buffer);
        if let Some(start) = self
            .scanner
            .earliest_candidate_crossing(&whole, ctx, ctx + cut)
        {
            cut = cut.min(start - ctx);
        }
        self.emit(cut)
    }

    /// Ends the stream; returns what is left.
    pub fn finish(&mut self) -> String {
        let end = self.buffer.len();
        self.emit(end)
    }

    fn emit(&mut self, mut cut: usize) -> String {
        // Judge the segment inside its real surroundings: what came before it
        // and everything held back after it. A finding may not straddle the
        // cut: if one would, emit only up to its start.
        let ctx = self.context.len();
        let whole = format!("{}{}", self.context, self.buffer);
        // (From the start of its match: a label that leads a finding, as in
        // `SSN 536228726`, stays with it.)
        let mut found = loop {
            if cut == 0 || self.blocked {
                return String::new();
            }
            let mut found = Vec::new();
            let mut straddling = None;
            self.scanner
                .find_range_anchored(&whole, ctx, ctx + cut, |f, anchor| {
                    if f.end > ctx + cut && straddling.is_none() {
                        straddling = Some(anchor);
                    }
                    found.push(f);
                });
            match straddling {
                Some(anchor) => cut = anchor - ctx,
                None => break found,
            }
        };
        for f in &mut found {
            f.start -= ctx;
            f.end -= ctx;
        }
        let head: String = self.buffer.drain(..cut).collect();
        let out = match &self.modes {
            None => match self.scanner.mode() {
                Mode::Warn => head.clone(),
                Mode::Block if !found.is_empty() => {
                    self.blocked = true;
                    String::new()
                }
                Mode::Block => head.clone(),
                Mode::Redact => self.scanner.redact(&head, &found),
            },
            Some(mode_of) => {
                found.retain(|f| mode_of(&f.entity).is_some());
                if found
                    .iter()
                    .any(|f| mode_of(&f.entity) == Some(Mode::Block))
                {
                    self.blocked = true;
                    String::new()
                } else {
                    let redacted: Vec<Finding> = found
                        .iter()
                        .filter(|f| mode_of(&f.entity) == Some(Mode::Redact))
                        .cloned()
                        .collect();
                    self.scanner.redact(&head, &redacted)
                }
            }
        };
        for f in &mut found {
            f.start += self.emitted;
            f.end += self.emitted;
        }
        self.findings.extend(found);
        self.emitted += cut;
        self.context.push_str(&head);
        let mut keep = self.context.len().saturating_sub(CONTEXT);
        while !self.context.is_char_boundary(keep) {
            keep -= 1;
        }
        self.context.drain(..keep);
        out
    }
}

/// Bytes of already-emitted text kept as left context for the next segment.
const CONTEXT: usize = 64;
