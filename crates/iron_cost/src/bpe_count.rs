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
#[derive(Debug, Clone, Copy)]
pub(crate) enum Split {
    O200k,
    Cl100k,
}

/// Counts tokens for one encoding.
pub(crate) struct BpeCounter {
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
            split: Regex::new(&format!("^(?:{pattern})")).expect("constant split pattern"),
            ranks,
            core,
        }
    }

    /// The number of tokens tiktoken's `encode_ordinary(text)` returns.
    pub(crate) fn count(&self, text: &str) -> usize {
        let mut n = 0;
        let mut pos = 0;
        while pos < text.len() {
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

fn is_plain_space_run(piece: &str) -> bool {
    piece
        .chars()
        .all(|c| c.is_whitespace() && c != '\r' && c != '\n')
}
