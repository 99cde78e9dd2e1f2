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

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use regex::Regex;
use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

/// Pieces at least this long are merged with a heap (O(n log n)) instead of
/// the quadratic scan that is faster on short pieces.
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

/// The BPE ranks of one encoding, compact: every token's bytes in one arena
/// (allocated once, for the life of the process) and one map from a slice of
/// that arena to its rank. tiktoken's own encoder keeps each token as its own
/// heap allocation, several times over (encoder, decoder, sorted list).
struct RankTable {
    ranks: FxHashMap<&'static [u8], Rank>,
}

impl RankTable {
    /// Reads the ranks out of a `CoreBPE` built by `build` (through its
    /// decoder, since `tiktoken-rs` keeps its rank map private) and drops it.
    /// The `CoreBPE` lives and dies on a short-lived thread, so its many small
    /// allocations go to that thread's malloc arena, which is returned to the
    /// system once empty instead of staying resident in the main heap.
    fn load(build: fn() -> CoreBPE) -> Self {
        let read = move || {
            let core = build();
            let specials = core.special_tokens();
            let mut arena = Vec::new();
            let mut spans: Vec<(usize, usize, Rank)> = Vec::new();
            let mut misses = 0;
            let mut rank: Rank = 0;
            // Ranks are dense up to the vocabulary size; stop after a long gap.
            while misses < 4096 {
                match core.decode_bytes(&[rank]) {
                    Ok(bytes)
                        if !std::str::from_utf8(&bytes).is_ok_and(|s| specials.contains(s)) =>
                    {
                        spans.push((arena.len(), bytes.len(), rank));
                        arena.extend_from_slice(&bytes);
                        misses = 0;
                    }
                    _ => misses += 1,
                }
                rank += 1;
            }
            (arena, spans)
        };
        let (arena, spans) = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("iron-cage-ranks".into())
                .spawn_scoped(s, read)
                .ok()
                .and_then(|h| h.join().ok())
        })
        .unwrap_or_else(read);
        // Copied on this thread: nothing kept points into the other arena.
        let arena: &'static [u8] = Box::leak(Box::<[u8]>::from(&arena[..]));
        let mut ranks = FxHashMap::with_capacity_and_hasher(spans.len(), Default::default());
        for (at, len, rank) in spans {
            ranks.insert(&arena[at..at + len], rank);
        }
        RankTable { ranks }
    }

    #[inline]
    fn get(&self, bytes: &[u8]) -> Rank {
        self.ranks.get(bytes).copied().unwrap_or(Rank::MAX)
    }

    fn len(&self) -> usize {
        self.ranks.len()
    }

    /// The number of tokens BPE merges `piece` (two bytes or more) into:
    /// repeatedly merge the adjacent pair of lowest rank (leftmost on ties),
    /// exactly as tiktoken does.
    fn merged_len(&self, piece: &[u8]) -> usize {
        if piece.len() >= LONG_PIECE {
            return self.merged_len_heap(piece);
        }
        // (start, rank of the pair starting here)
        let mut parts: Vec<(usize, Rank)> = Vec::with_capacity(piece.len() + 1);
        for i in 0..piece.len() - 1 {
            parts.push((i, self.get(&piece[i..i + 2])));
        }
        parts.push((piece.len() - 1, Rank::MAX));
        parts.push((piece.len(), Rank::MAX));
        let rank_at = |parts: &[(usize, Rank)], i: usize| {
            if i + 3 < parts.len() {
                self.get(&piece[parts[i].0..parts[i + 3].0])
            } else {
                Rank::MAX
            }
        };
        loop {
            let mut min = (Rank::MAX, usize::MAX);
            for (i, &(_, r)) in parts[..parts.len() - 1].iter().enumerate() {
                if r < min.0 {
                    min = (r, i);
                }
            }
            if min.0 == Rank::MAX {
                break;
            }
            let i = min.1;
            if i > 0 {
                parts[i - 1].1 = rank_at(&parts, i - 1);
            }
            parts[i].1 = rank_at(&parts, i);
            parts.remove(i + 1);
        }
        parts.len() - 1
    }

    /// Same merges with a heap of candidate pairs and a linked list of parts.
    fn merged_len_heap(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        // Part starting at byte i: its end and the start of the previous part.
        let mut end: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let r = self.get(&piece[i..i + 2]);
            if r != Rank::MAX {
                heap.push(Reverse((r, i, i + 2)));
            }
        }
        let mut parts = n;
        while let Some(Reverse((_, start, pair_end))) = heap.pop() {
            // Stale unless both parts are still there with the same bounds.
            let mid = end[start];
            if !alive[start] || mid >= n || !alive[mid] || end[mid] != pair_end {
                continue;
            }
            alive[mid] = false;
            end[start] = pair_end;
            if pair_end < n {
                prev[pair_end] = start;
            }
            parts -= 1;
            let p = prev[start];
            if p != usize::MAX {
                let r = self.get(&piece[p..pair_end]);
                if r != Rank::MAX {
                    heap.push(Reverse((r, p, pair_end)));
                }
            }
            if pair_end < n {
                let next_end = end[pair_end];
                let r = self.get(&piece[start..next_end]);
                if r != Rank::MAX {
                    heap.push(Reverse((r, start, next_end)));
                }
            }
        }
        parts
    }
}

/// Counts tokens for one encoding.
pub(crate) struct BpeCounter {
    kind: Split,
    split: Regex,
    table: RankTable,
}

impl std::fmt::Debug for BpeCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpeCounter")
            .field("ranks", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl BpeCounter {
    /// Builds the counter from the ranks of the `CoreBPE` that `build`
    /// returns; the `CoreBPE` is not kept.
    ///
    /// # Panics
    /// If the split pattern does not compile: a constant, covered by tests.
    #[allow(clippy::expect_used)]
    pub(crate) fn new(split: Split, build: fn() -> CoreBPE) -> Self {
        let pattern = match split {
            Split::O200k => O200K,
            Split::Cl100k => CL100K,
        };
        let table = RankTable::load(build);
        BpeCounter {
            kind: split,
            split: Regex::new(&format!("^(?:{pattern})")).expect("constant split pattern"),
            table,
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
            // Every character is matched by some branch of the pattern; should
            // one not be, it is counted as a piece of its own.
            let first_char = rest.chars().next().map_or(rest.len(), char::len_utf8);
            let mut piece = match self.split.find(rest) {
                Some(m) if !m.is_empty() => m.as_str(),
                _ => &rest[..first_char],
            };
            // `\s+(?!\S)`: a run of spaces (no newline) followed by a non-space
            // keeps its last character for the next piece.
            if pos + piece.len() < text.len() && piece.len() > 1 && is_plain_space_run(piece) {
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
        if piece.len() < 2 || self.table.get(piece) != Rank::MAX {
            1
        } else {
            self.table.merged_len(piece)
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
