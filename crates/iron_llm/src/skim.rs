//! A strict JSON reader that walks a request or a reply once and keeps only
//! what governance needs (the model, limits and input size of a request; the
//! usage counts and generated texts of a reply), without building a tree.
//!
//! It accepts exactly the JSON `serde_json` accepts (the same grammar, UTF-8,
//! surrogate pairs and nesting limit) and reads it with a parsed tree's rules:
//! a later duplicate key wins, and a member of an unexpected type is passed
//! over. Any error yields `None`, and the caller falls back to the tree.

use std::borrow::Cow;

use iron_cost::Field;

/// `serde_json`'s nesting limit (128 nested containers are refused).
const MAX_DEPTH: u32 = 128;

struct Reader<'a> {
    /// The body, checked as UTF-8 once: strings are sliced from it, not re-checked.
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
    /// Numbers read so far.
    numbers: usize,
}

impl<'a> Reader<'a> {
    /// `None` when `body` is not UTF-8 (no JSON text then).
    fn new(body: &'a [u8]) -> Option<Self> {
        let s = std::str::from_utf8(body).ok()?;
        Some(Reader {
            s,
            b: body,
            i: 0,
            depth: 0,
            numbers: 0,
        })
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next non-blank byte (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Nothing but blanks is left.
    fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Bytes up to the next quote, backslash or control byte (from `self.i`),
    /// eight at a time.
    fn plain_run(&self) -> Option<usize> {
        let rest = self.b.get(self.i..)?;
        let mut chunks = rest.chunks_exact(8);
        let mut n = 0;
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let stops = special_bytes(u64::from_le_bytes(word));
            if stops != 0 {
                return Some(n + (stops.trailing_zeros() / 8) as usize);
            }
            n += 8;
        }
        chunks
            .remainder()
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .map(|p| n + p)
    }

    /// A string value: borrowed from the body unless it has escapes (then
    /// decoded into a string of `capacity` bytes: its escaped length bounds it).
    #[inline(never)]
    fn string(&mut self, capacity: usize) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        self.i += self.plain_run()?;
        if self.b[self.i] == b'"' {
            // Quotes are ASCII, so both ends are char boundaries of the checked body.
            let s = self.s.get(start..self.i)?;
            self.i += 1;
            return Some(Cow::Borrowed(s));
        }
        let mut out = String::with_capacity(capacity);
        out.push_str(self.s.get(start..self.i)?);
        loop {
            let c = self.b[self.i];
            self.i += 1;
            match c {
                b'"' => return Some(Cow::Owned(out)),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    out.push(match e {
                        b'"' | b'\\' | b'/' => char::from(e),
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None, // a control byte
            }
            let run = self.plain_run()?;
            out.push_str(self.s.get(self.i..self.i + run)?);
            self.i += run;
        }
    }

    /// After `\u`: one code point, a surrogate pair taken together.
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        match hi {
            0xD800..=0xDBFF => {
                if self.b.get(self.i..self.i + 2)? != b"\\u" {
                    return None;
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return None;
                }
                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(hi),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        self.i += 4;
        digits.iter().try_fold(0u32, |n, &d| {
            let v = char::from(d).to_digit(16)?;
            Some(n * 16 + v)
        })
    }

    /// Reads a string; whether it had no escapes.
    #[inline(never)]
    fn skip_string(&mut self) -> Option<bool> {
        self.eat(b'"')?;
        let mut plain = true;
        loop {
            self.i += self.plain_run()?;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(plain);
                }
                b'\\' => {
                    plain = false;
                    self.i += 1;
                    match *self.b.get(self.i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            self.unicode_escape()?;
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control byte
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number, reduced as a parsed tree would hold it.
    #[inline(never)]
    fn number(&mut self) -> Option<Field> {
        self.ws();
        self.numbers += 1;
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            float = true;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            float = true;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        let text = self.s.get(start..self.i)?;
        if !float {
            if let Ok(u) = text.parse::<u64>() {
                return Some(Field::Unsigned(u));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Some(u64::try_from(i).map_or(Field::Negative(i), Field::Unsigned));
            }
        }
        // serde_json refuses numbers out of the f64 range.
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Field::Float)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    fn enter(&mut self, open: u8) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        (self.depth < MAX_DEPTH).then_some(())
    }
}

/// One token of a JSON text, as [`Tokens::next`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Token {
    /// `{` (`true`) or `[` (`false`).
    Open(bool),
    /// The `}` or `]` that closes the innermost container.
    Close,
    /// An object key (its `:` read too): see [`Tokens::string`].
    Key(Span),
    /// A string value: see [`Tokens::string`].
    Str(Span),
    /// A number, reduced as a parsed tree would hold it.
    Num(Field),
    /// `true`, `false` or `null`.
    Literal(Field),
}

/// Where a string token is in the body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Span {
    /// The opening quote.
    pub(crate) at: usize,
    /// Past the closing quote.
    pub(crate) end: usize,
    /// Without escapes (its text is the bytes between the quotes).
    pub(crate) plain: bool,
}

/// What the grammar allows next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A value, or `]` (just after `[`).
    ValueOrClose,
    Value,
    /// A key, or `}` (just after `{`).
    KeyOrClose,
    Key,
    /// `,` or the innermost container's close.
    CommaOrClose,
    /// The top-level value is complete.
    Done,
}

/// A JSON text as a flat sequence of tokens, checked against the grammar as it
/// is read, in one small non-generic loop: every governed call reads its
/// request and its reply with this, from a cold cache, so the code it runs is
/// kept short and shared (no per-caller closures to monomorphise).
pub(crate) struct Tokens<'a> {
    r: Reader<'a>,
    /// One bit per open container, innermost lowest: set for an object.
    objects: u128,
    expect: Expect,
}

impl<'a> Tokens<'a> {
    /// `None` when `body` is not UTF-8.
    pub(crate) fn new(body: &'a [u8]) -> Option<Self> {
        Some(Tokens {
            r: Reader::new(body)?,
            objects: 0,
            expect: Expect::Value,
        })
    }

    /// Containers open.
    pub(crate) fn depth(&self) -> u32 {
        self.r.depth
    }

    /// The next non-blank byte (not consumed).
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.r.peek()
    }

    /// Moves to the next item or member of the innermost container (past a
    /// `,`): `true` when one follows, `false` when its close was read instead.
    /// Outside containers, `true` while the top-level value is to be read.
    pub(crate) fn more(&mut self) -> Option<bool> {
        let c = self.r.peek()?;
        let closes = match self.expect {
            Expect::Done => return None,
            Expect::Value | Expect::Key => false,
            Expect::ValueOrClose => c == b']',
            Expect::KeyOrClose => c == b'}',
            Expect::CommaOrClose => {
                let object = self.objects & 1 == 1;
                match (c, object) {
                    (b',', _) => {
                        self.r.i += 1;
                        self.expect = if object { Expect::Key } else { Expect::Value };
                        false
                    }
                    (b'}', true) | (b']', false) => true,
                    _ => return None,
                }
            }
        };
        if closes {
            self.close();
        }
        Some(!closes)
    }

    /// The next token; `None` at the end of the top-level value or on any
    /// error (then nothing more is read).
    pub(crate) fn next(&mut self) -> Option<Token> {
        if !self.more()? {
            return Some(Token::Close);
        }
        if let Expect::Key | Expect::KeyOrClose = self.expect {
            return self.key_span().map(Token::Key);
        }
        let r = &mut self.r;
        let token = match r.peek()? {
            c @ (b'{' | b'[') => {
                r.enter(c)?;
                let object = c == b'{';
                self.objects = (self.objects << 1) | u128::from(object);
                self.expect = if object {
                    Expect::KeyOrClose
                } else {
                    Expect::ValueOrClose
                };
                return Some(Token::Open(object));
            }
            b'"' => Token::Str(self.string_span()?),
            b't' => r
                .literal(b"true")
                .map(|()| Token::Literal(Field::Other("a bool")))?,
            b'f' => r
                .literal(b"false")
                .map(|()| Token::Literal(Field::Other("a bool")))?,
            b'n' => r.literal(b"null").map(|()| Token::Literal(Field::Null))?,
            _ => Token::Num(r.number()?),
        };
        self.after_value();
        Some(token)
    }

    fn string_span(&mut self) -> Option<Span> {
        self.r.ws();
        let at = self.r.i;
        let plain = self.r.skip_string()?;
        Some(Span {
            at,
            end: self.r.i,
            plain,
        })
    }

    /// A key and its `:`, where the grammar expects one.
    fn key_span(&mut self) -> Option<Span> {
        if !matches!(self.expect, Expect::Key | Expect::KeyOrClose) {
            return None;
        }
        let key = self.string_span()?;
        self.r.eat(b':')?;
        self.expect = Expect::Value;
        Some(key)
    }

    /// The next member's key of the object being read (then read its value);
    /// `None` inside at its end.
    pub(crate) fn key(&mut self) -> Option<Option<Cow<'a, str>>> {
        if !self.more()? {
            return Some(None);
        }
        let span = self.key_span()?;
        self.string(span).map(Some)
    }

    /// Reads the close of the innermost container.
    fn close(&mut self) {
        self.r.i += 1;
        self.r.depth -= 1;
        self.objects >>= 1;
        self.after_value();
    }

    fn after_value(&mut self) {
        self.expect = if self.r.depth == 0 {
            Expect::Done
        } else {
            Expect::CommaOrClose
        };
    }

    /// Reads the rest of a value that began with `first`.
    pub(crate) fn skip_rest(&mut self, first: Token) -> Option<()> {
        if let Token::Open(_) = first {
            let depth = self.depth();
            while self.depth() >= depth {
                self.next()?;
            }
        }
        Some(())
    }

    /// Reads and drops the next value.
    pub(crate) fn skip(&mut self) -> Option<()> {
        let first = self.next()?;
        self.skip_rest(first)
    }

    /// Reads and drops the next value: the bytes it spans and the numbers in it.
    pub(crate) fn skip_span(&mut self) -> Option<(usize, usize)> {
        self.r.ws();
        let (start, numbers) = (self.r.i, self.r.numbers);
        self.skip()?;
        Some((self.r.i - start, self.r.numbers - numbers))
    }

    /// The rest of a value begun by `first`, read as a count: a number as a
    /// tree holds it, else what kind of value it is.
    pub(crate) fn field_rest(&mut self, first: Token) -> Option<Field> {
        Some(match first {
            Token::Num(f) | Token::Literal(f) => f,
            Token::Str(_) => Field::Other("a string"),
            Token::Open(object) => {
                self.skip_rest(first)?;
                Field::Other(if object { "an object" } else { "a list" })
            }
            Token::Key(_) | Token::Close => return None,
        })
    }

    /// The text of a string token (key or value), unescaped.
    pub(crate) fn string(&self, span: Span) -> Option<Cow<'a, str>> {
        if span.plain {
            // Quotes are ASCII, so both ends are char boundaries of the checked body.
            return self.r.s.get(span.at + 1..span.end - 1).map(Cow::Borrowed);
        }
        let mut r = Reader {
            s: self.r.s,
            b: self.r.b,
            i: span.at,
            depth: 0,
            numbers: 0,
        };
        // The escaped length bounds the decoded one.
        r.string(span.end - span.at)
    }

    /// The next value as text: `Some` for a string, `None` after reading any other value.
    pub(crate) fn text(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.next()? {
            Token::Str(span) => self.string(span).map(Some),
            other => self.skip_rest(other).map(|()| None),
        }
    }

    /// Whether only blanks follow the complete top-level value.
    pub(crate) fn at_end(&mut self) -> bool {
        self.expect == Expect::Done && self.r.at_end()
    }
}

/// A word with the high bit set in each byte (of eight, little-endian) that
/// ends a plain string run: a quote, a backslash or a control byte. Bits above
/// the first such byte may be set spuriously (borrows), so only the lowest
/// set bit is exact — which is the one used.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Bytes below `n` (n <= 0x80) get their high bit set.
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
        | below(word, 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Whether the token loop accepts `text` as one JSON value (what serde_json
    /// says), read token by token and by the item-wise `more`/`key` walk alike.
    fn accepts(text: &[u8]) -> bool {
        let tokens = Tokens::new(text).is_some_and(|mut t| t.skip().is_some() && t.at_end());
        let walked = Tokens::new(text).is_some_and(|mut t| walk(&mut t).is_some() && t.at_end());
        assert_eq!(walked, tokens, "{:?}", String::from_utf8_lossy(text));
        tokens
    }

    /// Reads a value with `more`, `key` and `peek` (how the request is read).
    fn walk(t: &mut Tokens<'_>) -> Option<()> {
        match t.peek()? {
            b'{' => {
                t.next()?;
                while t.key()?.is_some() {
                    walk(t)?;
                }
                Some(())
            }
            b'[' => {
                t.next()?;
                while t.more()? {
                    walk(t)?;
                }
                Some(())
            }
            _ => t.skip_span().map(drop),
        }
    }

    #[test]
    fn grammar_matches_serde_json() {
        let samples: [&[u8]; 40] = [
            b"{}",
            b"[]",
            b" { \"a\" : [1, -2, 3.5e-3, 0, -0, 1E+2, true, false, null, \"x\"] } ",
            b"{\"a\":1,}",
            b"[1,]",
            b"[01]",
            b"[1.]",
            b"[.5]",
            b"[1e]",
            b"[-]",
            b"[+1]",
            b"\"\\u00e9\\ud83d\\ude00\"",
            b"\"\\ud83d\"",
            b"\"\\ude00\"",
            b"\"\\ud83d\\u0041\"",
            b"\"\\x\"",
            b"\"a\nb\"",
            b"\"\\uZZZZ\"",
            b"\"\\u12\"",
            b"[\"\xff\"]",
            b"\"caf\xc3\xa9\"",
            b"[1] [2]",
            b"{\"a\" 1}",
            b"{1: 2}",
            b"tru",
            b"nul",
            b"[true false]",
            b"99999999999999999999999",
            b"-99999999999999999999999",
            b"1.7976931348623157e309",
            b"",
            b"   ",
            b"[[[[[[[[[[]]]]]]]]]]",
            b"{\"a\":{\"b\":{\"c\":[{}]}}}",
            b"\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
            b"[1,2",
            b"{\"a\":1",
            b"\"open",
            b"[\"a\"\"b\"]",
            b"{\"a\":1}}",
        ];
        for text in samples {
            let serde = serde_json::from_slice::<Value>(text).is_ok();
            assert_eq!(accepts(text), serde, "{:?}", String::from_utf8_lossy(text));
        }
        for text in [&b"[1}"[..], b"{\"a\":1]", b"[{]}", b"{\"a\":[}]", b"[[1],]"] {
            let serde = serde_json::from_slice::<Value>(text).is_ok();
            assert_eq!(accepts(text), serde, "{:?}", String::from_utf8_lossy(text));
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [127, 128, 129] {
            let text = deep(n);
            let serde = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(accepts(text.as_bytes()), serde, "depth {n}");
        }
    }

    #[test]
    fn plain_run_stops_where_a_byte_loop_does() {
        let stop = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        // Every stop byte and some that are not, at every offset of a 20-byte run
        // (both sides of the 8-byte words), after plain ASCII and UTF-8 bytes.
        for fill in [b'a', 0xC3, 0x80, 0xFF, b'!', b'#', b'[', b']', 0x7F] {
            for special in (0u8..=0x22).chain([b'\\', b'a', 0x80, 0xDC]) {
                for at in 0..20 {
                    let mut b = vec![fill; 20];
                    b[at] = special;
                    let r = Reader {
                        s: "",
                        b: &b,
                        i: 0,
                        depth: 0,
                        numbers: 0,
                    };
                    let expected = b.iter().position(|&c| stop(c));
                    assert_eq!(
                        r.plain_run(),
                        expected,
                        "fill {fill:#x} {special:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn strings_decode_like_serde_json() {
        for text in [
            r#""plain""#,
            r#""a \"q\" \\ \/ \b\f\n\r\t""#,
            r#""\u00e9\u4e2d\ud83d\ude00 é""#,
            r#""""#,
        ] {
            let mut t = Tokens::new(text.as_bytes()).expect("utf-8");
            let ours = t.text().expect("string").expect("a string");
            let theirs: String = serde_json::from_str(text).expect("json");
            assert_eq!(ours, theirs);
        }
        let mut t = Tokens::new(br#""plain""#).expect("utf-8");
        assert!(matches!(t.text(), Some(Some(Cow::Borrowed("plain")))));
    }

    #[test]
    fn numbers_reduce_like_a_tree() {
        for text in [
            "0",
            "-0",
            "17",
            "-3",
            "2.0",
            "5e0",
            "2.5",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1e400",
        ] {
            let mut r = Reader::new(text.as_bytes()).expect("utf-8");
            let ours = r.number();
            let tree: Option<Value> = serde_json::from_str(text).ok();
            let theirs = tree.map(|v| match v {
                Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => Field::Unsigned(u),
                    (None, Some(i)) => Field::Negative(i),
                    _ => Field::Float(n.as_f64().expect("f64")),
                },
                _ => unreachable!(),
            });
            match (ours, theirs) {
                // serde_json keeps -0 as the float -0.0; both count as zero tokens.
                (Some(Field::Unsigned(0)), Some(Field::Float(0.0))) => {}
                (a, b) => assert_eq!(a, b, "{text}"),
            }
        }
    }
}
