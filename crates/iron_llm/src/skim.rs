//! A strict JSON reader that walks a reply once and keeps only what governance
//! needs (the usage counts and the generated texts), without building a tree.
//!
//! It accepts exactly the JSON `serde_json` accepts (the same grammar, UTF-8,
//! surrogate pairs and nesting limit) and reads it with a parsed tree's rules:
//! a later duplicate key wins, and a member of an unexpected type is passed
//! over. Any error yields `None`, and the caller falls back to the tree.

use std::borrow::Cow;

use iron_cost::Field;

/// `serde_json`'s nesting limit (128 nested containers are refused).
const MAX_DEPTH: u32 = 128;

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
    /// Numbers read so far.
    numbers: usize,
}

impl<'a> Reader<'a> {
    /// `None` when `body` is not UTF-8 (no JSON text then).
    pub(crate) fn new(body: &'a [u8]) -> Option<Self> {
        std::str::from_utf8(body).ok()?;
        Some(Reader {
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
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Nothing but blanks is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Bytes up to the next quote, backslash or control byte (from `self.i`).
    fn plain_run(&self) -> Option<usize> {
        self.b
            .get(self.i..)?
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
    }

    /// A string value: borrowed from the body unless it has escapes.
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        self.i += self.plain_run()?;
        if self.b[self.i] == b'"' {
            // The body is UTF-8 and quotes are ASCII: this is a char boundary.
            let s = std::str::from_utf8(&self.b[start..self.i]).ok()?;
            self.i += 1;
            return Some(Cow::Borrowed(s));
        }
        let mut out = Vec::with_capacity(2 * (self.i - start) + 16);
        out.extend_from_slice(&self.b[start..self.i]);
        loop {
            let c = self.b[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok().map(Cow::Owned),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let ch = self.unicode_escape()?;
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control byte
            }
            let run = self.plain_run()?;
            out.extend_from_slice(&self.b[self.i..self.i + run]);
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

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.i += self.plain_run()?;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
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
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
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

    /// Calls `member(reader, key)` for each member of an object; `member` must
    /// read the value.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.enter(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                member(self, key)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Calls `item(reader)` for each item of an array; `item` must read it.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.enter(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
        } else {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Runs `read` on the next value: the bytes it spans and the numbers in it.
    pub(crate) fn span(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<()>,
    ) -> Option<(usize, usize)> {
        self.ws();
        let (start, numbers) = (self.i, self.numbers);
        read(self)?;
        Some((self.i - start, self.numbers - numbers))
    }

    /// Reads and drops any value.
    pub(crate) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|r, _| r.skip()),
            b'[' => self.array(Reader::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// A string value, or `None` inside after passing over any other value.
    pub(crate) fn text(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'"' {
            self.string().map(Some)
        } else {
            self.skip().map(|()| None)
        }
    }

    /// Any value as a usage count: what kind it is, for objects after calling
    /// `member` on each member.
    pub(crate) fn count(
        &mut self,
        member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<Field> {
        Some(match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                Field::Null
            }
            b't' | b'f' => {
                self.skip()?;
                Field::Other("a bool")
            }
            b'"' => {
                self.skip_string()?;
                Field::Other("a string")
            }
            b'[' => {
                self.skip()?;
                Field::Other("a list")
            }
            b'{' => {
                self.object(member)?;
                Field::Other("an object")
            }
            _ => self.number()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Whether the reader accepts `text` as one JSON value (what serde_json says).
    fn accepts(text: &[u8]) -> bool {
        Reader::new(text).is_some_and(|mut r| r.skip().is_some() && r.at_end())
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
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [127, 128, 129] {
            let text = deep(n);
            let serde = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(accepts(text.as_bytes()), serde, "depth {n}");
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
            let mut r = Reader::new(text.as_bytes()).expect("utf-8");
            let ours = r.string().expect("string");
            let theirs: String = serde_json::from_str(text).expect("json");
            assert_eq!(ours, theirs);
        }
        let mut r = Reader::new(br#""plain""#).expect("utf-8");
        assert!(matches!(r.string(), Some(Cow::Borrowed("plain"))));
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
