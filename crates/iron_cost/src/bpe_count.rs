//! A faster token COUNTER with exactly tiktoken's results.
//!
//! tiktoken (and `tiktoken-rs`) split text with one regex that contains a
//! look-ahead, `\s+(?!\S)`, which forces the whole alternation onto
//! `fancy_regex`'s backtracking engine. That branch only decides one thing:
//! in a run of spaces followed by a word, the last space belongs to the word.
//! So we run the rest of the pattern, anchored, on the `regex` crate's lazy DFA
//! (`\s+` in place of `\s+(?!\S)`), and give that last space back by hand. The
//! pieces are then counted with the same BPE ranks (`byte_pair_split`).
//! Equality with tiktoken is tested on fixed samples and on arbitrary Unicode.

use regex::Regex;
use rustc_hash::FxHashMap;
use tiktoken_rs::{byte_pair_split, CoreBPE, Rank};

/// Pieces at least this long are counted by tiktoken's own encoder, which
/// switches to a heap-based merge that is faster on very long pieces.
const LONG_PIECE: usize = 100;

/// o200k_base's split pattern (gpt-4o and later), without the look-ahead branch.
const O200K: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+",
);

/// cl100k_base's split pattern (gpt-4, gpt-3.5). Its possessive quantifiers are
/// written greedy: nothing follows any of them that could force backtracking,
/// so both forms match the same text.
const CL100K: &str = concat!(
    r"'(?i:[sdmt]|ll|ve|re)",
    r"|[^\r\n\p{L}\p{N}]?\p{L}+",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*",
    r"|\s+$",
    r"|\s*[\r\n]",
    r"|\s+",
);

/// Which split pattern a counter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    O200k,
    Cl100k,
}

/// Counts tokens for one encoding.
pub(crate) struct BpeCounter {
    kind: Split,
    split: Regex,
    ranks: FxHashMap<Vec<u8>, Rank>,
    core: &'static CoreBPE,
}

impl std::fmt::Debug for BpeCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeCounter")
            .field("ranks", &self.ranks.len())
            .finish_non_exhaustive()
    }
}

impl BpeCounter {
    /// Builds the counter from `core`'s ranks (read back through its decoder,
    /// since `tiktoken-rs` keeps its rank map private).
    ///
    /// # Panics
    /// If the split pattern does not compile: a constant, covered by tests.
    #[allow(clippy::expect_used)]
    pub(crate) fn new(split: Split, core: &'static CoreBPE) -> Self {
        let pattern = match split {
            Split::O200k => O200K,
            Split::Cl100k => CL100K,
        };
        let specials = core.special_tokens();
        let mut ranks = FxHashMap::default();
        let mut misses = 0;
        let mut rank: Rank = 0;
        // Ranks are dense up to the vocabulary size; stop after a long gap.
        while misses < 4096 {
            match core.decode_bytes(&[rank]) {
                Ok(bytes) if !std::str::from_utf8(&bytes).is_ok_and(|s| specials.contains(s)) => {
                    ranks.insert(bytes, rank);
                    misses = 0;
                }
                _ => misses += 1,
            }
            rank += 1;
        }
        BpeCounter {
            kind: split,
            split: Regex::new(&format!("^(?:{pattern})")).expect("constant split pattern"),
            ranks,
            core,
        }
    }

    /// The number of tokens tiktoken's `encode_ordinary(text)` returns.
    pub(crate) fn count(&self, text: &str) -> usize {
        let mut n = 0;
        let mut pos = 0;
        let bytes = text.as_bytes();
        while pos < text.len() {
            if let Some(len) = ascii_piece(bytes, pos, self.kind) {
                n += self.count_piece(&bytes[pos..pos + len]);
                pos += len;
                continue;
            }
            let rest = &text[pos..];
            let Some(m) = self.split.find(rest) else {
                // Every character is matched by some branch; be safe anyway.
                return n + self.core.encode_ordinary(rest).len();
            };
            let mut piece = m.as_str();
            if piece.is_empty() {
                return n + self.core.encode_ordinary(rest).len();
            }
            // `\s+(?!\S)`: a run of spaces (no newline) followed by a non-space
            // keeps its last character for the next piece.
            if m.end() < rest.len() && piece.len() > 1 && is_plain_space_run(piece) {
                if let Some((last, _)) = piece.char_indices().next_back() {
                    if last > 0 {
                        piece = &piece[..last];
                    }
                }
            }
            n += self.count_piece(piece.as_bytes());
            pos += piece.len();
        }
        n
    }

    fn count_piece(&self, piece: &[u8]) -> usize {
        if self.ranks.contains_key(piece) {
            1
        } else if piece.len() >= LONG_PIECE {
            // Same result, better algorithm for long pieces.
            std::str::from_utf8(piece).map_or_else(
                |_| byte_pair_split(piece, &self.ranks).len(),
                |s| self.core.encode_ordinary(s).len(),
            )
        } else {
            byte_pair_split(piece, &self.ranks).len()
        }
    }
}

/// The length of the piece starting at `pos` when it is ASCII and the split
/// pattern's choice does not depend on anything else; `None` hands the position
/// to the regex (non-ASCII neighbours, apostrophes that may start contractions).
/// Mirrors the pattern's branches in their order: words (with one optional
/// leading non-alphanumeric), 1-3 digits, punctuation runs, whitespace runs.
#[inline]
fn ascii_piece(b: &[u8], pos: usize, split: Split) -> Option<usize> {
    let at = |i: usize| b.get(i).copied();
    let c = b[pos];
    if c >= 0x80 || c == b'\'' {
        return None;
    }
    let letter = |x: u8| x.is_ascii_alphabetic();
    let digit = |x: u8| x.is_ascii_digit();
    let space = |x: u8| matches!(x, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let punct = |x: u8| x < 0x80 && !space(x) && !letter(x) && !digit(x);
    // Ends a word or punctuation run for sure: end of text, or ASCII that is not an apostrophe.
    let settled = |x: Option<u8>| x.is_none_or(|x| x < 0x80 && x != b'\'');

    // Words: [^\r\n\p{L}\p{N}]? then letters.
    let start =
        if !letter(c) && !digit(c) && c != b'\r' && c != b'\n' && at(pos + 1).is_some_and(letter) {
            pos + 1
        } else {
            pos
        };
    if at(start).is_some_and(letter) {
        let mut i = start;
        match split {
            // [Upper]*[lower]+ (branch 1), else [Upper]+[lower]* (branch 2): either way
            // all leading capitals, then all following lower-case letters.
            Split::O200k => {
                while at(i).is_some_and(|x| x.is_ascii_uppercase()) {
                    i += 1;
                }
                while at(i).is_some_and(|x| x.is_ascii_lowercase()) {
                    i += 1;
                }
            }
            Split::Cl100k => {
                while at(i).is_some_and(letter) {
                    i += 1;
                }
            }
        }
        return settled(at(i)).then_some(i - pos);
    }
    // \p{N}{1,3}
    if digit(c) {
        let mut i = pos;
        while i < pos + 3 && at(i).is_some_and(digit) {
            i += 1;
        }
        return (i == pos + 3 || at(i).is_none_or(|x| x < 0x80)).then_some(i - pos);
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*' (cl100k: [\r\n]*)
    let start = if c == b' ' && at(pos + 1).is_some_and(punct) {
        pos + 1
    } else {
        pos
    };
    if at(start).is_some_and(punct) {
        let mut i = start;
        while at(i).is_some_and(punct) {
            i += 1;
        }
        if at(i).is_some_and(|x| x >= 0x80) {
            return None;
        }
        while at(i)
            .is_some_and(|x| x == b'\r' || x == b'\n' || (split == Split::O200k && x == b'/'))
        {
            i += 1;
        }
        return Some(i - pos);
    }
    // Whitespace runs.
    if space(c) {
        let mut end = pos;
        while at(end).is_some_and(space) {
            end += 1;
        }
        if at(end).is_some_and(|x| x >= 0x80) {
            return None; // a Unicode space may continue the run
        }
        let at_end = end == b.len();
        if split == Split::Cl100k && at_end {
            return Some(end - pos); // \s++$
        }
        if let Some(last_newline) = (pos..end).rev().find(|&i| b[i] == b'\n' || b[i] == b'\r') {
            return Some(last_newline + 1 - pos); // \s*[\r\n]+ (cl100k: \s*[\r\n])
        }
        let len = end - pos;
        return Some(if at_end || len == 1 { len } else { len - 1 }); // \s+(?!\S) | \s+
    }
    None
}

fn is_plain_space_run(piece: &str) -> bool {
    piece
        .chars()
        .all(|c| c.is_whitespace() && c != '\r' && c != '\n')
}
