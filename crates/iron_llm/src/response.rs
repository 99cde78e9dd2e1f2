//! JSON (non-streamed) responses: their usage and their text.
//!
//! [`skim`] reads both without building a JSON tree (the common path: nothing
//! to rewrite); [`usage_of`] and [`for_each_text_mut`] work on a parsed
//! [`Value`] when a reply must be rewritten or is of an unexpected shape.

use std::borrow::Cow;

use iron_cost::{Field, Provider, Usage, UsageFields};
use serde_json::Value;

use crate::error::LlmError;
use crate::format::ApiFormat;
use crate::skim::{Token, Tokens};

/// The usage a response reports, normalised; `None` when it reports none.
///
/// # Errors
/// A usage object of no known shape.
pub fn usage_of(format: ApiFormat, body: &Value) -> Result<Option<Usage>, LlmError> {
    match body.get("usage") {
        None | Some(Value::Null) => Ok(None),
        Some(u) => Ok(Some(Usage::from_json(u, provider(format))?)),
    }
}

/// [`usage_of`] for a skimmed response.
///
/// # Errors
/// A usage member of no known shape.
pub fn skimmed_usage(format: ApiFormat, skimmed: &Skimmed<'_>) -> Result<Option<Usage>, LlmError> {
    match &skimmed.usage {
        None => Ok(None),
        Some(u) => match u.not_object {
            Some(kind) => Err(LlmError::from(iron_cost::CostError::InvalidUsage(format!(
                "expected the provider's usage object (a dict), got {kind}"
            )))),
            None => Ok(Some(Usage::from_fields(u, provider(format))?)),
        },
    }
}

/// The usage member and the generated texts of a response, read in one pass
/// without building a tree: texts borrow from the body unless they contain
/// escapes, the usage counts are kept as numbers, everything else is skipped.
#[derive(Debug, Default)]
pub struct Skimmed<'a> {
    /// The `usage` member (`None` when absent or null).
    pub usage: Option<SkimmedUsage>,
    /// The texts [`for_each_text_mut`] would visit, in the same order.
    pub texts: Vec<Cow<'a, str>>,
}

/// Skims a JSON response of `format` with a parsed tree's rules (a later
/// duplicate key wins, members of unexpected types are passed over). `None`
/// when the body is not a JSON object: read it with [`usage_of`] /
/// [`for_each_text_mut`] instead.
///
/// One loop over [`Tokens`] with the few paths that matter spelled out (no
/// closures): it runs once per governed call from a cold cache, where the
/// amount of code executed is what costs.
#[must_use]
pub fn skim(format: ApiFormat, body: &[u8]) -> Option<Skimmed<'_>> {
    let mut t = Tokens::new(body)?;
    if !matches!(t.next()?, Token::Open(true)) {
        return None;
    }
    let mut out = Skimmed::default();
    while let Some(key) = t.key()? {
        match (format, key.as_ref()) {
            (_, "usage") => out.usage = read_usage(&mut t)?,
            (ApiFormat::ChatCompletions, "choices") => out.texts = chat_texts(&mut t)?,
            (ApiFormat::Responses, "output") => out.texts = output_texts(&mut t)?,
            (ApiFormat::Messages, "content") => {
                let mut texts = Vec::new();
                if items(&mut t)? {
                    while let Some(first) = item(&mut t)? {
                        typed_text(&mut t, first, "text", &mut texts)?;
                    }
                }
                out.texts = texts;
            }
            _ => t.skip()?,
        }
    }
    t.at_end().then_some(out)
}

/// Starts reading a value as a list: `true` when it is an array (read its
/// items with [`item`]), `false` when it was something else (read already).
fn items(t: &mut Tokens<'_>) -> Option<bool> {
    let first = t.next()?;
    if matches!(first, Token::Open(false)) {
        return Some(true);
    }
    t.skip_rest(first).map(|()| false)
}

/// The first token of the array's next item; `None` at its end.
fn item(t: &mut Tokens<'_>) -> Option<Option<Token>> {
    match t.next()? {
        Token::Close => Some(None),
        first => Some(Some(first)),
    }
}

/// Moves to the array's next item that is an object, reading other items
/// through: `true` when one was opened, `false` at the array's end.
fn next_object(t: &mut Tokens<'_>) -> Option<bool> {
    while let Some(first) = item(t)? {
        if matches!(first, Token::Open(true)) {
            return Some(true);
        }
        t.skip_rest(first)?;
    }
    Some(false)
}

/// `choices[].message.content`: the last `content` of the last `message` of
/// each choice, when a string.
#[inline(never)]
fn chat_texts<'a>(t: &mut Tokens<'a>) -> Option<Vec<Cow<'a, str>>> {
    let mut texts = Vec::new();
    if !items(t)? {
        return Some(texts);
    }
    while next_object(t)? {
        let mut content = None;
        while let Some(key) = t.key()? {
            if key != "message" {
                t.skip()?;
                continue;
            }
            content = None;
            let first = t.next()?;
            if !matches!(first, Token::Open(true)) {
                t.skip_rest(first)?;
                continue;
            }
            while let Some(key) = t.key()? {
                if key == "content" {
                    content = t.text()?;
                } else {
                    t.skip()?;
                }
            }
        }
        texts.extend(content);
    }
    Some(texts)
}

/// `output[].content[]` parts of type `output_text` (the last `content` of each item).
#[inline(never)]
fn output_texts<'a>(t: &mut Tokens<'a>) -> Option<Vec<Cow<'a, str>>> {
    let mut texts = Vec::new();
    if !items(t)? {
        return Some(texts);
    }
    while next_object(t)? {
        let mut parts = Vec::new();
        while let Some(key) = t.key()? {
            if key != "content" {
                t.skip()?;
                continue;
            }
            parts.clear();
            if items(t)? {
                while let Some(first) = item(t)? {
                    typed_text(t, first, "output_text", &mut parts)?;
                }
            }
        }
        texts.append(&mut parts);
    }
    Some(texts)
}

/// A `{"type": kind, "text": ...}` part (begun by `first`): its text when of type `kind`.
fn typed_text<'a>(
    t: &mut Tokens<'a>,
    first: Token,
    kind: &str,
    texts: &mut Vec<Cow<'a, str>>,
) -> Option<()> {
    if !matches!(first, Token::Open(true)) {
        return t.skip_rest(first);
    }
    let (mut is_kind, mut text) = (false, None);
    while let Some(key) = t.key()? {
        match key.as_ref() {
            "type" => is_kind = t.text()?.as_deref() == Some(kind),
            "text" => text = t.text()?,
            _ => t.skip()?,
        }
    }
    if is_kind {
        texts.extend(text);
    }
    Some(())
}

/// A usage member read as a count (begun by `first`): a number, or what kind
/// of value it is; an object's counts go to `nested`.
fn count(t: &mut Tokens<'_>, first: Token, nested: &mut [Option<Field>; 6]) -> Option<Field> {
    match first {
        Token::Open(true) => {
            while let Some(key) = t.key()? {
                match nested_index(&key) {
                    Some(j) => {
                        let first = t.next()?;
                        nested[j] = Some(t.field_rest(first)?);
                    }
                    None => t.skip()?,
                }
            }
            Some(Field::Other("an object"))
        }
        first => t.field_rest(first),
    }
}

/// The `usage` member: `None` when null.
#[inline(never)]
fn read_usage(t: &mut Tokens<'_>) -> Option<Option<SkimmedUsage>> {
    let first = t.next()?;
    if !matches!(first, Token::Open(true)) {
        return Some(match t.field_rest(first)? {
            Field::Null => None,
            Field::Other(kind) => Some(not_object(kind)),
            _ => Some(not_object("a number")),
        });
    }
    let mut u = SkimmedUsage::default();
    while let Some(key) = t.key()? {
        let Some(i) = top_index(&key) else {
            t.skip()?;
            continue;
        };
        let mut nested = [None; 6];
        let first = t.next()?;
        u.top[i] = Some(count(t, first, &mut nested)?);
        if i >= FIRST_OBJECT {
            u.nested[i - FIRST_OBJECT] = nested;
        }
    }
    Some(Some(u))
}

/// Members of a usage object a price can depend on.
const TOP: [&str; 13] = [
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    // Objects from here on (their members below).
    "prompt_tokens_details",
    "completion_tokens_details",
    "input_tokens_details",
    "output_tokens_details",
    "cache_creation",
    "server_tool_use",
];
const FIRST_OBJECT: usize = 7;
const NESTED: [&str; 6] = [
    "cached_tokens",
    "reasoning_tokens",
    "ephemeral_5m_input_tokens",
    "ephemeral_1h_input_tokens",
    "audio_tokens",
    "web_search_requests",
];

/// The index of `key` in [`TOP`] (a `match` compiles to a length switch).
fn top_index(key: &str) -> Option<usize> {
    Some(match key {
        "prompt_tokens" => 0,
        "completion_tokens" => 1,
        "input_tokens" => 2,
        "output_tokens" => 3,
        "total_tokens" => 4,
        "cache_read_input_tokens" => 5,
        "cache_creation_input_tokens" => 6,
        "prompt_tokens_details" => 7,
        "completion_tokens_details" => 8,
        "input_tokens_details" => 9,
        "output_tokens_details" => 10,
        "cache_creation" => 11,
        "server_tool_use" => 12,
        _ => return None,
    })
}

/// The index of `key` in [`NESTED`].
fn nested_index(key: &str) -> Option<usize> {
    Some(match key {
        "cached_tokens" => 0,
        "reasoning_tokens" => 1,
        "ephemeral_5m_input_tokens" => 2,
        "ephemeral_1h_input_tokens" => 3,
        "audio_tokens" => 4,
        "web_search_requests" => 5,
        _ => return None,
    })
}

/// A usage member read as counts (see [`UsageFields`]); later duplicates win,
/// as in a parsed tree.
#[derive(Debug, Default)]
pub struct SkimmedUsage {
    top: [Option<Field>; 13],
    nested: [[Option<Field>; 6]; 6],
    /// Set when `usage` is not an object: what it is instead.
    not_object: Option<&'static str>,
}

impl UsageFields for SkimmedUsage {
    fn field(&self, path: &[&str]) -> Option<Field> {
        let first = *path.first()?;
        let i = TOP.iter().position(|k| *k == first)?;
        match path {
            [_] => self.top[i],
            [_, member] if i >= FIRST_OBJECT && self.top[i] == Some(Field::Other("an object")) => {
                let j = NESTED.iter().position(|k| k == member)?;
                self.nested[i - FIRST_OBJECT][j]
            }
            _ => None,
        }
    }
}

fn not_object(kind: &'static str) -> SkimmedUsage {
    SkimmedUsage {
        not_object: Some(kind),
        ..SkimmedUsage::default()
    }
}

pub(crate) fn provider(format: ApiFormat) -> Provider {
    format.provider()
}

/// Calls `f` on every piece of generated text in a response body: chat
/// `choices[].message.content`, Responses `output[].content[]` of type
/// `output_text`, Anthropic `content[]` of type `text`.
pub fn for_each_text_mut(format: ApiFormat, body: &mut Value, mut f: impl FnMut(&mut String)) {
    match format {
        ApiFormat::ChatCompletions => {
            if let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) {
                for choice in choices {
                    if let Some(Value::String(s)) =
                        choice.get_mut("message").and_then(|m| m.get_mut("content"))
                    {
                        f(s);
                    }
                }
            }
        }
        ApiFormat::Responses => {
            if let Some(items) = body.get_mut("output").and_then(Value::as_array_mut) {
                for item in items {
                    output_item_texts(item, &mut f);
                }
            }
        }
        ApiFormat::Messages => {
            if let Some(blocks) = body.get_mut("content").and_then(Value::as_array_mut) {
                for block in blocks {
                    if block.get("type").and_then(Value::as_str) == Some("text") {
                        if let Some(Value::String(s)) = block.get_mut("text") {
                            f(s);
                        }
                    }
                }
            }
        }
        ApiFormat::Embeddings => {}
    }
}

/// The tool calls a reply makes, for code that rewrites their arguments: `f`
/// gets each call's arguments, a JSON-encoded string (Chat Completions
/// `tool_calls[].function.arguments`, Responses `function_call` items) or an
/// object (Anthropic `tool_use` blocks' `input`).
pub fn for_each_tool_call_mut(format: ApiFormat, body: &mut Value, mut f: impl FnMut(&mut Value)) {
    match format {
        ApiFormat::ChatCompletions => {
            for choice in body
                .get_mut("choices")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let calls = choice
                    .get_mut("message")
                    .and_then(|m| m.get_mut("tool_calls"))
                    .and_then(Value::as_array_mut);
                for call in calls.into_iter().flatten() {
                    if let Some(args) = call
                        .get_mut("function")
                        .and_then(|f| f.get_mut("arguments"))
                    {
                        f(args);
                    }
                }
            }
        }
        ApiFormat::Responses => {
            for item in body
                .get_mut("output")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    if let Some(args) = item.get_mut("arguments") {
                        f(args);
                    }
                }
            }
        }
        ApiFormat::Messages => {
            for block in body
                .get_mut("content")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    if let Some(input) = block.get_mut("input") {
                        f(input);
                    }
                }
            }
        }
        ApiFormat::Embeddings => {}
    }
}

/// Text parts of one Responses output item (`message` items' `output_text` parts).
pub fn output_item_texts(item: &mut Value, f: &mut impl FnMut(&mut String)) {
    if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
        for part in parts {
            if part.get("type").and_then(Value::as_str) == Some("output_text") {
                if let Some(Value::String(s)) = part.get_mut("text") {
                    f(s);
                }
            }
        }
    }
}

/// All generated text of a response, concatenated (for token estimates).
#[must_use]
pub fn text_of(format: ApiFormat, body: &Value) -> String {
    let mut copy = body.clone();
    let mut out = String::new();
    for_each_text_mut(format, &mut copy, |s| out.push_str(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_of_each_format() {
        let mut chat =
            json!({"choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]});
        let mut seen = Vec::new();
        for_each_text_mut(ApiFormat::ChatCompletions, &mut chat, |s| {
            seen.push(s.clone())
        });
        assert_eq!(seen, ["a", "b"]);
        let mut msg =
            json!({"content": [{"type": "text", "text": "x"}, {"type": "tool_use", "input": {}}]});
        for_each_text_mut(ApiFormat::Messages, &mut msg, |s| *s = "y".into());
        assert_eq!(msg["content"][0]["text"], "y");
        let resp = json!({"output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]});
        assert_eq!(text_of(ApiFormat::Responses, &resp), "hi");
    }

    #[test]
    fn usage_shapes() {
        let u = usage_of(
            ApiFormat::Messages,
            &json!({"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}}),
        )
        .expect("shape")
        .expect("present");
        assert_eq!((u.input, u.cached_input, u.output), (10, 5, 7));
        assert_eq!(
            usage_of(ApiFormat::ChatCompletions, &json!({})).expect("ok"),
            None
        );
    }

    /// The texts and usage the tree path sees.
    fn by_tree(format: ApiFormat, body: &str) -> (Vec<String>, Option<Usage>) {
        let mut v: Value = serde_json::from_str(body).expect("json");
        let mut texts = Vec::new();
        for_each_text_mut(format, &mut v, |s| texts.push(s.clone()));
        (texts, usage_of(format, &v).ok().flatten())
    }

    #[test]
    fn key_indexes_match_the_key_lists() {
        for (i, k) in TOP.iter().enumerate() {
            assert_eq!(top_index(k), Some(i));
        }
        for (i, k) in NESTED.iter().enumerate() {
            assert_eq!(nested_index(k), Some(i));
        }
        assert_eq!(top_index("usage"), None);
    }

    #[test]
    fn skim_reads_what_the_tree_reads() {
        let cases = [
            (
                ApiFormat::ChatCompletions,
                r#"{"id": "x", "created": 1, "choices": [{"index": 0, "message": {"role": "assistant", "content": "a \"q\" \u00e9"}}, {"message": {"content": null, "tool_calls": [{"function": {"arguments": "{}"}}]}}, {"message": {"content": "b"}, "logprobs": {"content": [1, 2.5e3]}}], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}"#,
            ),
            (
                ApiFormat::ChatCompletions,
                r#"{"choices": [{"message": {"content": [{"type": "text"}]}}, {"finish_reason": "stop"}], "usage": null}"#,
            ),
            (
                ApiFormat::Responses,
                r#"{"output": [{"type": "reasoning", "summary": []}, {"type": "message", "content": [{"type": "output_text", "text": "hi"}, {"type": "refusal", "refusal": "no"}, {"type": "output_text", "text": "there"}]}], "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}"#,
            ),
            (
                ApiFormat::Messages,
                r#"{"content": [{"type": "text", "text": "x"}, {"type": "tool_use", "id": "t", "input": {"a": [1, {"b": "c"}]}}, {"text": "untyped"}], "usage": {"input_tokens": 10, "output_tokens": 7}}"#,
            ),
            (
                ApiFormat::Embeddings,
                r#"{"data": [{"embedding": [0.1, -2e-5, 3]}], "usage": {"prompt_tokens": 8, "total_tokens": 8}}"#,
            ),
        ];
        for (format, body) in cases {
            let skimmed = skim(format, body.as_bytes()).expect("expected shape");
            let texts: Vec<String> = skimmed.texts.iter().map(ToString::to_string).collect();
            let usage = skimmed_usage(format, &skimmed).ok().flatten();
            assert_eq!((texts, usage), by_tree(format, body), "{body}");
        }
        // Plain strings are borrowed from the body, not copied.
        let body = br#"{"choices": [{"message": {"content": "plain"}}]}"#;
        let skimmed = skim(ApiFormat::ChatCompletions, body).expect("shape");
        assert!(matches!(skimmed.texts[0], Cow::Borrowed("plain")));
    }

    #[test]
    fn skim_reads_odd_shapes_as_the_tree_does() {
        for (format, body) in [
            (ApiFormat::ChatCompletions, r#"{"choices": "none"}"#),
            (
                ApiFormat::ChatCompletions,
                r#"{"choices": [null, 3, {"message": [1]}, {"message": {"content": {"a": 1}}}]}"#,
            ),
            (
                ApiFormat::ChatCompletions,
                r#"{"choices": [{"message": {"content": "first"}}], "choices": [{"message": {"content": "dup"}}]}"#,
            ),
            (
                ApiFormat::ChatCompletions,
                r#"{"choices": [{"message": {"content": "a", "content": "b"}, "message": {"role": "x"}}]}"#,
            ),
            (ApiFormat::Messages, r#"{"content": "a string"}"#),
            (
                ApiFormat::Messages,
                r#"{"content": [{"text": "t", "type": "text"}, {"type": "text", "text": 5}, {"type": "text", "type": "image", "text": "no"}]}"#,
            ),
            (
                ApiFormat::Responses,
                r#"{"output": [{"content": "not a list"}, {"content": [{"type": "output_text", "text": "a"}], "content": [{"type": "output_text", "text": "b"}]}]}"#,
            ),
            (
                ApiFormat::Embeddings,
                r#"{"data": [[1, 2]], "usage": {"prompt_tokens": 2, "total_tokens": 2}}"#,
            ),
        ] {
            let skimmed = skim(format, body.as_bytes()).expect("a JSON object");
            let texts: Vec<String> = skimmed.texts.iter().map(ToString::to_string).collect();
            let usage = skimmed_usage(format, &skimmed).ok().flatten();
            assert_eq!((texts, usage), by_tree(format, body), "{body}");
        }
        for body in [
            r#"[1, 2]"#,
            r#""text""#,
            r#"{"choices": []} trailing"#,
            "not json",
            r#"{"a": 1"#,
        ] {
            assert!(
                skim(ApiFormat::ChatCompletions, body.as_bytes()).is_none(),
                "{body}"
            );
        }
    }

    #[test]
    fn skimmed_usage_follows_the_tree_rules() {
        let usages = [
            r#"{"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 2}}"#,
            r#"{"input_tokens": 7, "output_tokens": 3, "total_tokens": 10, "input_tokens_details": {"cached_tokens": 2}, "output_tokens_details": {"reasoning_tokens": 1}}"#,
            r#"{"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 9, "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 3}}"#,
            r#"{"input_tokens": 7, "output_tokens": 3}"#,
            r#"{"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 11}}"#,
            r#"{"prompt_tokens": -1, "completion_tokens": 5}"#,
            r#"{"prompt_tokens": 2.0, "completion_tokens": 5e0}"#,
            r#"{"prompt_tokens": 2.5, "completion_tokens": 5}"#,
            r#"{"prompt_tokens": "9", "completion_tokens": 5}"#,
            r#"{"prompt_tokens": null, "completion_tokens": 5, "prompt_tokens_details": null}"#,
            r#"{"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": 3}"#,
            r#"{"prompt_tokens": 1, "prompt_tokens": 10, "completion_tokens": 5}"#,
            r#"{"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4}, "prompt_tokens_details": [1]}"#,
            r#"{"total_tokens": 3}"#,
            r#"{}"#,
            r#"[1, 2]"#,
            r#"12"#,
            r#"null"#,
        ];
        for usage in usages {
            for format in [
                ApiFormat::ChatCompletions,
                ApiFormat::Messages,
                ApiFormat::Responses,
            ] {
                let body = format!(r#"{{"id": "x", "usage": {usage}}}"#);
                let tree: Value = serde_json::from_str(&body).expect("json");
                let skimmed = skim(format, body.as_bytes()).expect("shape");
                let (a, b) = (usage_of(format, &tree), skimmed_usage(format, &skimmed));
                assert_eq!(a.is_ok(), b.is_ok(), "{format:?} {usage}: {a:?} vs {b:?}");
                assert_eq!(a.ok(), b.ok(), "{format:?} {usage}");
            }
        }
    }

    /// Random JSON over the keys that matter, to compare the skim and the tree.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[usize::try_from(self.next() % items.len() as u64).expect("index")]
        }
        fn value(&mut self, depth: u32) -> String {
            const KEYS: [&str; 16] = [
                "choices",
                "message",
                "content",
                "usage",
                "type",
                "text",
                "output",
                "prompt_tokens",
                "completion_tokens",
                "input_tokens",
                "output_tokens",
                "prompt_tokens_details",
                "cached_tokens",
                "cache_creation",
                "ephemeral_5m_input_tokens",
                "x\\u0041",
            ];
            const SCALARS: [&str; 14] = [
                "0",
                "7",
                "-3",
                "2.0",
                "2.5",
                "1e2",
                "null",
                "true",
                "\"text\"",
                "\"output_text\"",
                "\"a \\\"b\\\" \\u00e9\"",
                "\"\"",
                "18446744073709551616",
                "-0",
            ];
            match (self.next() % 6, depth) {
                (0 | 1, d) if d < 5 => {
                    let n = self.next() % 4;
                    let members: Vec<String> = (0..n)
                        .map(|_| format!("\"{}\": {}", self.pick(&KEYS), self.value(depth + 1)))
                        .collect();
                    format!("{{{}}}", members.join(", "))
                }
                (2, d) if d < 5 => {
                    let n = self.next() % 4;
                    let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(","))
                }
                _ => self.pick(&SCALARS).to_owned(),
            }
        }
    }

    #[test]
    fn skim_equals_the_tree_on_random_json() {
        let mut g = Gen(0x2545_F491_4F6C_DD1D);
        let formats = [
            ApiFormat::ChatCompletions,
            ApiFormat::Responses,
            ApiFormat::Messages,
            ApiFormat::Embeddings,
        ];
        for case in 0..20_000 {
            const TEMPLATES: [&str; 4] = [
                r#"{"choices": [{"message": {"content": $, "content": $}, "index": $}, $], "usage": $}"#,
                r#"{"output": [{"content": [{"type": %, "text": $}, $, {"text": $, "type": %}]}, $], "usage": $}"#,
                r#"{"content": [{"type": %, "text": $}, {"text": $, "type": %}, $], "usage": {"input_tokens": $, "output_tokens": $, "cache_creation": {"ephemeral_5m_input_tokens": $}}}"#,
                r#"{"usage": {"prompt_tokens": $, "completion_tokens": $, "prompt_tokens_details": {"cached_tokens": $}, "total_tokens": $}, "choices": $}"#,
            ];
            let mut body = if case % 2 == 0 {
                let template = TEMPLATES[(case / 2) % 4];
                let mut out = String::new();
                for ch in template.chars() {
                    match ch {
                        '$' => out.push_str(&g.value(3)),
                        '%' => {
                            out.push_str(g.pick(&["\"text\"", "\"output_text\"", "\"image\"", "1"]))
                        }
                        c => out.push(c),
                    }
                }
                out.into_bytes()
            } else {
                g.value(0).into_bytes()
            };
            if body.first() != Some(&b'{') {
                body = format!("{{\"usage\": {}}}", String::from_utf8(body).expect("utf-8"))
                    .into_bytes();
            }
            // Every fourth case is damaged: a byte dropped or changed.
            if case % 4 == 3 && !body.is_empty() {
                let at = usize::try_from(g.next() % body.len() as u64).expect("index");
                if g.next() % 2 == 0 {
                    body.remove(at);
                } else {
                    let bytes = b"{}[],:\"\\ 0-e";
                    body[at] =
                        bytes[usize::try_from(g.next() % bytes.len() as u64).expect("index")];
                }
            }
            let format = if case % 2 == 0 {
                [
                    ApiFormat::ChatCompletions,
                    ApiFormat::Responses,
                    ApiFormat::Messages,
                    ApiFormat::ChatCompletions,
                ][(case / 2) % 4]
            } else {
                formats[(case / 2) % 4]
            };
            let tree: Option<Value> = serde_json::from_slice(&body).ok().filter(Value::is_object);
            let skimmed = skim(format, &body);
            let text = String::from_utf8_lossy(&body);
            let (Some(mut tree), Some(skimmed)) = (tree.clone(), skimmed.as_ref()) else {
                assert_eq!(tree.is_some(), skimmed.is_some(), "{format:?} {text}");
                continue;
            };
            let mut texts = Vec::new();
            for_each_text_mut(format, &mut tree, |s| texts.push(s.clone()));
            let ours: Vec<String> = skimmed.texts.iter().map(ToString::to_string).collect();
            assert_eq!(ours, texts, "{format:?} {text}");
            let (a, b) = (usage_of(format, &tree), skimmed_usage(format, skimmed));
            assert_eq!(a.is_ok(), b.is_ok(), "{format:?} {text}: {a:?} vs {b:?}");
            assert_eq!(a.ok(), b.ok(), "{format:?} {text}");
        }
    }
}
