//! Where a match can start, found without running the automaton over every byte.
//!
//! The one-pass automaton reads every byte and, bound by the latency of its
//! transition-table loads, tops out near 600 MB/s on this kind of hardware.
//! Every built-in pattern, though, is anchored near a byte or literal that is
//! rare in prose, so the scanner looks for those instead and asks the
//! automaton (anchored, in `Scanner::best_at`) only about the few positions
//! they point at:
//!
//! - API keys start with a literal prefix (`sk-`, `AKIA`, `ghp_`, `eyJ`,
//!   `-----BEGIN `...), found with a SIMD multi-literal search (a prefix
//!   inside a word, as in `task-`, is skipped);
//! - e-mail addresses contain an `@` at most 64 characters after their start;
//! - every other entity has a trigger byte (a digit, `:`, `-`, `.`, `+`, `(`)
//!   at its start or at most 4 bytes after it, where the start is a word
//!   start; a cheap per-entity check (`entities::may_start`) drops most of
//!   these before the automaton is asked;
//! - an SSN written as nine bare digits after a label (`SSN: 536228726`)
//!   starts at its label, at most `ssn::LABEL_REACH` bytes before the first
//!   digit: the label is looked for when a run of exactly nine digits is met.
//!
//! User-defined patterns have no such structure: they are searched with their
//! own unanchored automaton. What is produced is a superset of the positions
//! where an enabled pattern matches, so the findings are exactly those of the
//! full scan; `tests` checks that against the full scan on adversarial text.

use regex_automata::meta::Regex;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::{Input, MatchKind, Span};

use crate::entities::{self, email, ssn};

/// How far before its trigger byte a non-key, non-email match can start.
const LOOKBACK: usize = 4;

/// Texts (or rests of texts) up to this long are searched byte by byte for
/// literals (rather than with the SIMD literal search) and for trigger bytes
/// (rather than a block at a time): a governed reply is scanned once, from a
/// cold cache, where the code a search runs costs more than its bytes do.
const SHORT: usize = 256;

/// Bytes scanned per step of the trigger search (the compiler vectorises the
/// per-block test).
const BLOCK: usize = 32;

/// Text denser in triggers than one per `DENSE_BYTES` bytes (over a window of
/// `DENSE_WINDOW` triggers) is cheaper to scan with the automaton: a trigger
/// costs about as much as that many bytes of automaton (numeric CSV, hex dumps).
const DENSE_BYTES: usize = 14;
const DENSE_WINDOW: u32 = 64;
/// How far the automaton takes over once text is found dense; doubled each
/// time the text is still dense after it (up to `DENSE_SPAN_MAX`), back to
/// the start after a window that is not.
const DENSE_SPAN: usize = 8 * 1024;
const DENSE_SPAN_MAX: usize = 1 << 20;

/// The compiled searches, shared by every scan.
#[derive(Debug)]
pub(crate) struct Finder {
    /// Key prefixes.
    literals: Vec<&'static str>,
    keys: Prefilter,
    custom: Option<Regex>,
    /// Every pattern, unanchored: for dense stretches of text.
    all: Regex,
}

impl Finder {
    pub(crate) fn new(custom: Option<Regex>, all: Regex) -> Self {
        let literals = entities::literals();
        Finder {
            // Teddy over a handful of 3-11 byte literals: always available.
            keys: Prefilter::new(MatchKind::LeftmostFirst, &literals)
                .expect("a literal prefilter for the key prefixes"),
            literals,
            custom,
            all,
        }
    }

    /// The first literal at or after `from` that can start a match (SIMD search).
    fn find_literal(&self, b: &[u8], from: usize) -> Option<usize> {
        let mut p = from;
        loop {
            let at = self.keys.find(b, Span::from(p..b.len()))?.start;
            if entities::literal_start_ok(b, at) {
                return Some(at);
            }
            p = at + 1;
        }
    }

    /// A cursor over `text` returning candidate starts in increasing order.
    pub(crate) fn cursor<'a>(&'a self, text: &'a [u8]) -> Cursor<'a> {
        Cursor {
            finder: self,
            text,
            keys: Memo::default(),
            email: Memo::default(),
            triggers: Memo::default(),
            custom: Memo::default(),
            automaton: Memo::default(),
            density: Density::default(),
            dense_until: 0,
        }
    }
}

/// The last answer of one source: valid for every query in `from..=at`
/// (no candidate of the source lies in `from..at`).
#[derive(Debug, Clone, Copy, Default)]
struct Memo {
    answer: Option<(usize, Option<usize>)>,
}

impl Memo {
    fn get(&mut self, pos: usize, find: impl FnOnce(usize) -> Option<usize>) -> Option<usize> {
        if let Some((from, at)) = self.answer {
            if pos >= from && at.is_none_or(|a| pos <= a) {
                return at;
            }
        }
        let at = find(pos);
        self.answer = Some((pos, at));
        at
    }
}

/// Candidate starts in one text.
pub(crate) struct Cursor<'a> {
    finder: &'a Finder,
    text: &'a [u8],
    keys: Memo,
    email: Memo,
    triggers: Memo,
    custom: Memo,
    /// The exact next match start, in dense text.
    automaton: Memo,
    density: Density,
    /// Below this position the automaton answers.
    dense_until: usize,
}

/// Triggers seen since `start` (the first of the current window), and how far
/// the automaton takes over next time the text is found dense.
#[derive(Debug)]
struct Density {
    start: usize,
    count: u32,
    span: usize,
}

impl Default for Density {
    fn default() -> Self {
        Density {
            start: 0,
            count: 0,
            span: DENSE_SPAN,
        }
    }
}

impl Cursor<'_> {
    /// The first candidate start at or after `pos`.
    pub(crate) fn next(&mut self, pos: usize) -> Option<usize> {
        let b = self.text;
        let finder = self.finder;
        if pos < self.dense_until {
            return self.automaton.get(pos, |p| {
                finder
                    .all
                    .search(&Input::new(b).span(p..b.len()))
                    .map(|m| m.start())
            });
        }
        let density = &mut self.density;
        let mut dense_at = None;
        let triggers = self.triggers.get(pos, |p| {
            let found = next_triggered(b, p, density);
            if let Err(at) = found {
                dense_at = Some(at);
            }
            found.ok().flatten()
        });
        if let Some(at) = dense_at {
            // Forget the cut-short answer and let the automaton take over.
            self.triggers = Memo::default();
            self.dense_until = at.saturating_add(self.density.span);
            self.density = Density {
                span: (self.density.span * 2).min(DENSE_SPAN_MAX),
                ..Density::default()
            };
            return self.next(pos);
        }
        let keys = self.keys.get(pos, |p| {
            if b.len() - p <= SHORT {
                entities::find_literal(b, p, &finder.literals)
            } else {
                finder.find_literal(b, p)
            }
        });
        let email = self.email.get(pos, |p| email::next_start(b, p));
        let custom = match &finder.custom {
            Some(re) => self.custom.get(pos, |p| {
                re.search(&Input::new(b).span(p..b.len()))
                    .map(|m| m.start())
            }),
            None => None,
        };
        [keys, email, triggers, custom].into_iter().flatten().min()
    }
}

/// Whether `c` (after `prev`) can be the first trigger of a match: the first
/// digit of a run of digits; `:`, `+` or `(`; a `-` or `.` right after a hex
/// letter (MAC addresses written without digits before their first separator;
/// after a digit, that digit is the trigger).
fn is_trigger(prev: u8, c: u8) -> bool {
    // Bitwise `&` and `|`, not `&&` and `||`: no branches, so it vectorises.
    let digit = |x: u8| x.wrapping_sub(b'0') < 10;
    let hex_letter = (prev | 0x20).wrapping_sub(b'a') < 6;
    (digit(c) & !digit(prev))
        | (c == b':')
        | (c == b'+')
        | (c == b'(')
        | (hex_letter & ((c == b'-') | (c == b'.')))
}

/// The trigger bytes of `b[at..at + BLOCK]` as a bit mask (bit j: byte at + j).
fn block_mask(b: &[u8], at: usize) -> u32 {
    if at > 0 {
        if let (Some(prev), Some(cur)) = (b.get(at - 1..at - 1 + BLOCK), b.get(at..at + BLOCK)) {
            return mask_of(
                prev.try_into().expect("BLOCK"),
                cur.try_into().expect("BLOCK"),
            );
        }
    }
    // The first and the last block: copy, padding with zeros (never a trigger).
    let mut cur = [0u8; BLOCK];
    let mut prev = [0u8; BLOCK];
    for j in 0..BLOCK {
        cur[j] = entities::byte(b, at + j);
        prev[j] = if at + j == 0 {
            0
        } else {
            entities::byte(b, at + j - 1)
        };
    }
    mask_of(&prev, &cur)
}

fn mask_of(prev: &[u8; BLOCK], cur: &[u8; BLOCK]) -> u32 {
    // One 0/1 byte per input byte (the compiler vectorises this map), then
    // eight flags at a time gathered into bits by one multiplication: flag i
    // (byte i of the little-endian word) lands on bit 56 + i.
    let mut flags = [0u8; BLOCK];
    for ((f, &p), &c) in flags.iter_mut().zip(prev).zip(cur) {
        *f = u8::from(is_trigger(p, c));
    }
    let mut mask = 0u32;
    for (k, word) in flags.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let bits = w.wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= u32::try_from(bits).expect("8 bits") << (8 * k);
    }
    mask
}

/// Trigger bytes in order, a block at a time.
struct Triggers<'a> {
    b: &'a [u8],
    /// Start of the current block.
    base: usize,
    /// Triggers of the current block not yet returned.
    mask: u32,
}

impl<'a> Triggers<'a> {
    fn new(b: &'a [u8], from: usize) -> Self {
        let mut t = Triggers {
            b,
            base: from,
            mask: 0,
        };
        t.load(from);
        t
    }

    /// Loads the block starting at `at` (shorter at the end of the text).
    fn load(&mut self, at: usize) {
        self.base = at;
        self.mask = block_mask(self.b, at);
    }

    /// The next trigger at or after `from` (and after every one returned).
    fn next_from(&mut self, from: usize) -> Option<usize> {
        loop {
            if from >= self.base + BLOCK {
                self.load(from);
            } else if from > self.base {
                // Drop the triggers before `from`.
                self.mask &= u32::MAX << (from - self.base);
            }
            if self.mask != 0 {
                let at = self.base + self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                return Some(at);
            }
            if self.base + BLOCK >= self.b.len() {
                return None;
            }
            let next = self.base + BLOCK;
            self.load(next);
            // Skip trigger-free blocks quickly.
            while self.mask == 0 && self.base + BLOCK < self.b.len() {
                let next = self.base + BLOCK;
                self.load(next);
            }
        }
    }
}

/// The first trigger at or after `from`, byte by byte.
fn next_trigger(b: &[u8], from: usize) -> Option<usize> {
    // Every trigger byte is in `(`..=`:`, where prose has few bytes.
    (from..b.len()).find(|&t| {
        b[t].wrapping_sub(b'(') <= b':' - b'('
            && is_trigger(if t == 0 { 0 } else { b[t - 1] }, b[t])
    })
}

/// The start of the word that `i` is in, if it is at most `max` bytes back.
fn word_start(b: &[u8], i: usize, max: usize) -> Option<usize> {
    let mut s = i;
    while s > 0 && entities::is_word(b[s - 1]) {
        if i - s == max {
            return None;
        }
        s -= 1;
    }
    Some(s)
}

/// The label start (at or after `pos`) of an SSN written as the nine bare
/// digits at `t` (a word of nine characters).
fn labelled_ssn(b: &[u8], pos: usize, t: usize) -> Option<usize> {
    if !entities::digits_at(b, t, 9) || entities::is_word(entities::byte(b, t + 9)) {
        return None;
    }
    let from = pos.max(t.saturating_sub(ssn::LABEL_REACH));
    ssn::label_before(b, from, t)
}

/// The first start at or after `pos` that a trigger byte points at and
/// `entities::may_start` accepts; `Err(at)` when the text around `at` is
/// too dense in triggers for this to beat the automaton.
fn next_triggered(b: &[u8], pos: usize, density: &mut Density) -> Result<Option<usize>, usize> {
    // A short text is searched byte by byte: fewer instructions to fetch cold
    // than the block search, which pays off only over longer text.
    let mut triggers = (b.len() > SHORT).then(|| Triggers::new(b, pos));
    let mut t = pos;
    let mut last_word = None;
    while let Some(at) = match &mut triggers {
        Some(blocks) => blocks.next_from(t),
        None => next_trigger(b, t),
    } {
        t = at;
        if density.count == 0 {
            density.start = t;
        }
        density.count += 1;
        if density.count == DENSE_WINDOW {
            if t - density.start < DENSE_BYTES * DENSE_WINDOW as usize {
                return Err(t);
            }
            density.count = 0;
            density.span = DENSE_SPAN;
        }
        let c = b[t];
        // Nine bare digits: an SSN when a label leads them (`SSN: 536228726`),
        // whose start comes before any other candidate at this trigger.
        // The word this trigger is in (a digit) or ends (a separator).
        let word = if c.is_ascii_digit() {
            word_start(b, t, LOOKBACK)
        } else if t > 0 && entities::is_word(b[t - 1]) {
            word_start(b, t - 1, LOOKBACK - 1)
        } else {
            None
        };
        if let Some(w) = word {
            if w >= pos && last_word != Some(w) {
                last_word = Some(w);
                if entities::may_start(b, w) {
                    // A label before these digits starts earlier.
                    let label = c.is_ascii_digit().then(|| labelled_ssn(b, pos, t));
                    return Ok(Some(label.flatten().unwrap_or(w)));
                }
            }
        }
        if c.is_ascii_digit() {
            // The rest of this word shares its start.
            let len = b[t..]
                .iter()
                .position(|&x| !entities::is_word(x))
                .unwrap_or(b.len() - t);
            // Nine bare digits: an SSN when a label leads them (`SSN: 536228726`).
            if len == 9 {
                if let Some(label) = labelled_ssn(b, pos, t) {
                    return Ok(Some(label));
                }
            }
            t += len;
            continue;
        }
        if matches!(c, b':' | b'+' | b'(') && entities::may_start(b, t) {
            return Ok(Some(t));
        }
        t += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use regex_automata::{Anchored, Input, PatternID};

    use crate::{CustomPattern, Entity, Scanner, ScannerConfig, Severity};

    /// Pieces that make and break every pattern: digit and hex runs, every
    /// separator the patterns use, capitals, key prefixes, whole values and
    /// non-ASCII text.
    const PIECES: &[&str] = &[
        "0",
        "1",
        "2",
        "5",
        "9",
        "12",
        "123",
        "415",
        "555",
        "2671",
        "4111",
        "1111",
        "0000",
        "00",
        "a",
        "b",
        "f",
        "ab",
        "fe80",
        "dead",
        "beef",
        "cafe",
        "e",
        "A",
        "F",
        "GB",
        "DE",
        "ZZ",
        "x",
        "q",
        "Z",
        "_",
        " ",
        "  ",
        "-",
        ".",
        ":",
        "::",
        "+",
        "(",
        ")",
        "@",
        "%",
        "/",
        ",",
        "\n",
        "\t",
        "sk-",
        "sk-proj-",
        "sk-ant-api03-",
        "AKIA",
        "ghp_",
        "github_pat_",
        "xoxb-",
        "AIza",
        "eyJ",
        "-----BEGIN ",
        "-----END ",
        "RSA ",
        "PRIVATE KEY-----",
        "AbCdEfGhIjKlMnOpQrSt",
        "0123456789abcdefABCDEF",
        "jane.roe",
        "example.com",
        "co",
        "uk",
        "é",
        "中文",
        "\u{2028}",
        "536-22-8726",
        "4111 1111 1111 1111",
        "(415) 555-2671",
        "+44 20 7946 0958",
        "192.168.10.254",
        "2001:db8::1",
        "00:1A:2b:3C:4d:5E",
        "0a1b.2c3d.4e5f",
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "a@b.io",
        "word",
        "the ",
        // National phone formats, prefixes and what breaks them.
        "06",
        "0113",
        "(0",
        "(11)",
        "1-",
        "00",
        "0044",
        "020 7946 0958",
        "612 34 56 78",
        "1-800-555-0199",
        // Labelled SSNs and other separators.
        "SSN ",
        "ssn: \"",
        "Social Security No. ",
        "536228726",
        "536.22.8726",
        "DE89-3704-0044-0532-0130-00",
        // Internationalised e-mail, CIDR, zones, code.
        "xn--",
        "xn--p1ai",
        "ü",
        "рф",
        "jörg@müller.de",
        "%eth0",
        "%25",
        "/24",
        "/128",
        "fe80::1%eth0",
        "10.0.0.0/8",
        "std::",
        "::C",
        "[",
        "]",
    ];

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).expect("small")
        }
    }

    fn text(rng: &mut Rng) -> String {
        // One text in 50 is long enough to go dense and back (see `DENSE_*`).
        let n = if rng.below(50) == 0 {
            400 + rng.below(2000)
        } else {
            1 + rng.below(40)
        };
        (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect()
    }

    fn scanners() -> Vec<Scanner> {
        let base = || ScannerConfig {
            hmac_key: b"k".to_vec(),
            ..ScannerConfig::default()
        };
        vec![
            Scanner::new(base()).expect("valid"),
            Scanner::new(ScannerConfig {
                entities: Some(vec![Entity::Phone, Entity::MacAddress, Entity::Iban]),
                ..base()
            })
            .expect("valid"),
            Scanner::new(ScannerConfig {
                custom: vec![
                    CustomPattern {
                        name: "TICKET".into(),
                        pattern: r"\b[A-Z]{2,4}-[0-9]{3,6}\b".into(),
                        severity: Severity::Low,
                    },
                    CustomPattern {
                        name: "WORD".into(),
                        pattern: r"word".into(),
                        severity: Severity::Low,
                    },
                ],
                ..base()
            })
            .expect("valid"),
        ]
    }

    #[test]
    fn triggers_are_found_alike_byte_by_byte_and_a_block_at_a_time() {
        let mut rng = Rng(11);
        for _ in 0..3000 {
            let text = text(&mut rng);
            let b = text.as_bytes();
            for from in 0..=b.len() {
                assert_eq!(
                    super::next_trigger(b, from),
                    super::Triggers::new(b, from).next_from(from),
                    "{text:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn literals_are_found_alike_byte_by_byte_and_by_the_literal_search() {
        let scanner = &scanners()[0];
        let mut rng = Rng(0x5eed_1234);
        let prefixes = crate::entities::literals();
        for _ in 0..3000 {
            let n = 1 + rng.below(12);
            let text: String = (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        prefixes[rng.below(prefixes.len())]
                    } else {
                        PIECES[rng.below(PIECES.len())]
                    }
                })
                .collect();
            let b = text.as_bytes();
            for from in 0..=b.len() {
                let simd = scanner.finder.find_literal(b, from);
                assert_eq!(
                    crate::entities::find_literal(b, from, &prefixes),
                    simd,
                    "{text:?} from {from}"
                );
            }
        }
    }

    #[test]
    fn dense_text_is_left_to_the_automaton_and_sparse_text_is_not() {
        let scanner = &scanners()[0];
        let csv = "12345,678.90,2026-03-15,42,7.3\n".repeat(400);
        let prose = "The committee approved the budget after a long discussion. ".repeat(400);
        let dense = format!("{csv}card 4111 1111 1111 1111 {csv}");
        let mut cursor = scanner.finder.cursor(dense.as_bytes());
        let card = dense.find("4111").expect("card");
        let (mut pos, mut calls) = (0, 0);
        while let Some(s) = cursor.next(pos).filter(|&s| s < card) {
            pos = s + 1;
            calls += 1;
        }
        // The automaton took over within the first lines and went straight to the card.
        assert!(cursor.dense_until > 0, "numeric CSV is dense");
        assert_eq!(cursor.next(pos), Some(card));
        // Few candidates before the automaton took over (the CSV has none).
        assert!(calls < 100, "{calls} candidates before the card");

        let sparse = format!("{prose}mail jane.roe@example.com {prose}");
        let mut cursor = scanner.finder.cursor(sparse.as_bytes());
        let mut pos = 0;
        while let Some(s) = cursor.next(pos) {
            pos = s + 1;
        }
        assert_eq!(cursor.dense_until, 0, "prose is not dense");

        for text in [
            dense,
            sparse,
            format!("{prose}{csv}{prose}{csv}+1 415 555 2671"),
        ] {
            assert_eq!(scanner.find(&text), scanner.find_by_full_scan(&text));
        }
    }

    /// Whether pattern `p` matches anchored at `s` (one search of that pattern alone: exact).
    fn matches_at(scanner: &Scanner, b: &[u8], s: usize, p: PatternID) -> bool {
        let input = Input::new(b)
            .span(s..b.len())
            .anchored(Anchored::Pattern(p));
        scanner.regex.search(&input).is_some()
    }

    #[test]
    fn every_position_where_a_pattern_matches_is_a_candidate() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for scanner in scanners() {
            for _ in 0..3000 {
                let t = text(&mut rng);
                let b = t.as_bytes();
                let mut cursor = scanner.finder.cursor(b);
                for s in (0..b.len()).filter(|&s| t.is_char_boundary(s)) {
                    // `matching_at` may over-report (see `Which`); confirm one by one.
                    let matches = scanner
                        .matching_at(b, s)
                        .iter()
                        .any(|p| matches_at(&scanner, b, s, p));
                    if matches {
                        assert_eq!(
                            cursor.next(s),
                            Some(s),
                            "start {s} missed at {:?}",
                            String::from_utf8_lossy(
                                &b[s.saturating_sub(40)..(s + 40).min(b.len())]
                            )
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn findings_equal_the_full_scan() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for scanner in scanners() {
            for _ in 0..20_000 {
                let t = text(&mut rng);
                assert_eq!(scanner.find(&t), scanner.find_by_full_scan(&t), "in {t:?}");
            }
        }
    }

    #[test]
    fn candidates_never_skip_a_match_start_in_either_mode() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let scanner = &scanners()[2];
        let exact = |b: &[u8], p: usize| {
            let input = Input::new(b).span(p..b.len());
            scanner.finder.all.search(&input).map(|m| m.start())
        };
        for _ in 0..3000 {
            let t = text(&mut rng);
            let b = t.as_bytes();
            let mut cursor = scanner.finder.cursor(b);
            let mut pos = 0;
            while pos <= b.len() {
                let got = cursor.next(pos);
                let want = exact(b, pos);
                assert!(got.is_none_or(|g| g >= pos), "at {pos} in {t:?}");
                if let Some(w) = want {
                    assert!(
                        got.is_some_and(|g| g <= w),
                        "{got:?} > {w} at {pos} in {t:?}"
                    );
                }
                pos += 1 + rng.below(3);
            }
        }
    }

    #[test]
    fn the_patterns_said_to_match_at_a_position_include_every_one_that_does() {
        let mut rng = Rng(0x8CB9_2BA7_2F3D_8DD7);
        let scanner = &scanners()[0];
        let (mut positions, mut extra) = (0usize, 0usize);
        for _ in 0..150 {
            // Long texts: the lazy DFA's cache fills and is cleared.
            let t: String = (0..2000).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            let b = t.as_bytes();
            for s in (0..b.len()).filter(|&s| t.is_char_boundary(s)) {
                let said: Vec<_> = scanner.matching_at(b, s).iter().collect();
                let does: Vec<_> = (0..scanner.regex.pattern_len())
                    .map(PatternID::new_unchecked)
                    .filter(|&p| matches_at(scanner, b, s, p))
                    .collect();
                assert!(
                    does.iter().all(|p| said.contains(p)),
                    "{does:?} not in {said:?} at {s}"
                );
                positions += 1;
                extra += usize::from(said.len() != does.len());
            }
        }
        // Only searches during which the cache was cleared answer "all patterns".
        assert!(
            extra * 1000 < positions,
            "{extra} of {positions} positions over-reported"
        );
    }
}
