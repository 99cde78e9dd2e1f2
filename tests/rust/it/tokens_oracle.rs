//! Our token counter against tiktoken-rs's encoder on random, whitespace-heavy text.

use iron_cage_it::Rng;
use iron_cost::Tokenizer;

/// Characters chosen to stress the split rules: runs of spaces and newlines,
/// contractions, digits, punctuation, non-ASCII letters, marks and wide spaces.
const ALPHABET: &[&str] = &[
    " ", " ", " ", "\n", "\r\n", "\t", "\u{3000}", "\u{a0}", "a", "B", "z", "'s", "'LL", "'", "0",
    "7", "42", ".", "!", "/", "$", "é", "\u{301}", "日", "本", "🤖", "Ω", "ß", "-", "_", "(", ")",
    "\u{200b}",
];

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(40);
    (0..len)
        .map(|_| ALPHABET[usize::try_from(rng.below(ALPHABET.len() as u64)).unwrap_or(0)])
        .collect()
}

#[test]
fn counts_equal_tiktoken_on_random_text() {
    let cases = [
        (Tokenizer::O200kBase, tiktoken_rs::o200k_base_singleton()),
        (Tokenizer::Cl100kBase, tiktoken_rs::cl100k_base_singleton()),
    ];
    let mut rng = Rng::new(2026);
    for _ in 0..5000 {
        let text = random_text(&mut rng);
        for (ours, theirs) in &cases {
            assert_eq!(
                ours.count_text(&text),
                theirs.encode_ordinary(&text).len(),
                "{ours:?} on {text:?}"
            );
        }
    }
}

/// ASCII only, so the hand-written fast path decides nearly every piece.
const ASCII: &[u8] = b"  \t\n\r\x0b\x0c aAbBzZqQ09'!./(-_#\x00\x1b";

#[test]
fn ascii_fast_path_equals_tiktoken() {
    let cases = [
        (Tokenizer::O200kBase, tiktoken_rs::o200k_base_singleton()),
        (Tokenizer::Cl100kBase, tiktoken_rs::cl100k_base_singleton()),
    ];
    let mut rng = Rng::new(7);
    for _ in 0..20_000 {
        let len = rng.below(24);
        let text: String = (0..len)
            .map(|_| char::from(ASCII[usize::try_from(rng.below(ASCII.len() as u64)).unwrap_or(0)]))
            .collect();
        for (ours, theirs) in &cases {
            assert_eq!(
                ours.count_text(&text),
                theirs.encode_ordinary(&text).len(),
                "{ours:?} on {text:?}"
            );
        }
    }
}
