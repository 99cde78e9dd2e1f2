//! What a request makes the provider bill beyond the text it sends: images,
//! documents and audio, the tool-use system prompt, context the provider adds
//! by reference, and server-side tools.
//!
//! Each kind is bounded by the provider's published rule (see
//! `docs/budgets-and-costs.md` for the table and sources):
//! - OpenAI images: 512 px tiles (`base + tile × tiles`, by model family) or
//!   32 px patches (× a model multiplier, at most 1,536 patches); `detail: low`
//!   is the base alone; an image of unknown size is the model's maximum.
//! - Anthropic images: `width × height / 750` after the resize to a long edge
//!   of 1,568 px, at most 1,600 tokens.
//! - PDFs: each page billed as text plus an image of the page; pages counted
//!   from the file when it is inline, else the request limit (100 pages).
//! - Audio input: 20 tokens a second (the higher of OpenAI's two published
//!   audio rates), the duration read from the file.
//! - Anything referenced by id or URL that has no per-item bound (files,
//!   stored responses, conversations, prompts): the model's context window.
//! - Server-side tools run several model turns and bill per use: no bound;
//!   the request is refused under a hard budget unless a stated reserve is set.
//!
//! Request kinds this module does not know are reported as unbounded rather
//! than counted as zero.

use iron_cost::Tokenizer;
use serde_json::{Map, Value};

use crate::format::ApiFormat;
use crate::media::{self, IMAGE_HEAD};

/// Pages a request may carry in its PDFs (OpenAI and Anthropic both state 100).
pub const MAX_PDF_PAGES: u64 = 100;
/// Text tokens billed per PDF page at most (Anthropic: "1,500-3,000 tokens per
/// page"; OpenAI bills the extracted text the same way).
pub const PDF_TEXT_PER_PAGE: u64 = 3_000;
/// Most tokens Anthropic bills for one image (it resizes larger ones).
pub const ANTHROPIC_IMAGE_MAX: u64 = 1_600;
/// Audio input tokens per second.
pub const AUDIO_TOKENS_PER_S: u64 = 20;

/// What a request adds to its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Tokens of images and document pages (and of text documents carried
    /// as a source), billed at the input rate.
    pub media_tokens: u64,
    /// Tokens the provider adds to the prompt (Anthropic's tool-use system prompt).
    pub fixed_tokens: u64,
    /// Audio input tokens, billed at the audio input rate.
    pub audio_tokens: u64,
    /// The reply may contain audio (`modalities` asks for it).
    pub audio_output: bool,
    /// Output tokens the request itself may add (predicted outputs are billed
    /// as output when rejected).
    pub extra_output: u64,
    /// The field through which the provider adds content of unknown size; the
    /// input is then bounded by the model's context window.
    pub pulls_context: Option<String>,
    /// Why the request's cost has no bound (the field and its value).
    pub unbounded: Option<String>,
}

impl Inputs {
    /// Whether the request sends nothing but text.
    #[must_use]
    pub fn is_text_only(&self) -> bool {
        *self == Inputs::default()
    }
}

/// How a model bills an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRule {
    /// OpenAI tile models: `base` tokens, plus `tile` per 512 px tile at high detail.
    Tiles {
        /// Tokens of every image (all of it at `detail: low`).
        base: u64,
        /// Tokens per 512 px tile.
        tile: u64,
    },
    /// OpenAI patch models: 32 px patches (at most 1,536) times a multiplier.
    Patches {
        /// The multiplier in hundredths.
        per_100: u64,
    },
    /// Anthropic: pixels / 750 after resizing, at most 1,600.
    Anthropic,
}

/// Most 32 px patches OpenAI bills for one image.
const MAX_PATCHES: u64 = 1_536;
/// Most 512 px tiles of an image scaled to fit 2048 × 2048, shortest side 768 px.
const MAX_TILES: u64 = 8;

impl ImageRule {
    /// The rule for `model`; unknown OpenAI-format models get the most
    /// expensive known rule.
    #[must_use]
    pub fn for_model(model: &str) -> Self {
        let m = iron_cost::model_tail(model).to_ascii_lowercase();
        let m = m.strip_prefix("anthropic.").unwrap_or(&m);
        let tiles = |base, tile| ImageRule::Tiles { base, tile };
        let starts = |p: &str| m.starts_with(p);
        if starts("claude") {
            ImageRule::Anthropic
        } else if starts("gpt-4.1-mini") || starts("gpt-5-mini") {
            ImageRule::Patches { per_100: 162 }
        } else if starts("gpt-4.1-nano") || starts("gpt-5-nano") {
            ImageRule::Patches { per_100: 246 }
        } else if starts("o4-mini") {
            ImageRule::Patches { per_100: 172 }
        } else if starts("gpt-4o-mini") {
            tiles(2_833, 5_667)
        } else if starts("gpt-4o")
            || starts("chatgpt-4o")
            || starts("gpt-4.1")
            || starts("gpt-4.5")
            || starts("gpt-4-turbo")
        {
            tiles(85, 170)
        } else if starts("o1") || starts("o3") {
            tiles(75, 150)
        } else if starts("computer-use") {
            tiles(65, 129)
        } else if starts("gpt-5") && !m.contains("mini") && !m.contains("nano") {
            tiles(70, 140)
        } else {
            // Most tokens per image of any OpenAI model.
            tiles(2_833, 5_667)
        }
    }

    /// Most tokens one image can cost.
    #[must_use]
    pub fn max_tokens(self) -> u64 {
        self.tokens(None, None)
    }

    /// Tokens of an image of `size` (unknown: the most) at `detail`.
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn tokens(self, size: Option<(u32, u32)>, detail: Option<&str>) -> u64 {
        match self {
            ImageRule::Tiles { base, tile } => {
                if detail == Some("low") {
                    return base;
                }
                let tiles = size.map_or(MAX_TILES, |(w, h)| {
                    let (w, h, whole) = openai_scaled(f64::from(w), f64::from(h));
                    // A server resizes to whole pixels, and each rounding can move a
                    // side by a pixel or two: allow for it unless the sizes came out whole.
                    let slack = if whole { 0.0 } else { 4.0 };
                    let tiles_along = |side: f64| ((side + slack) / 512.0).ceil() as u64;
                    tiles_along(w) * tiles_along(h)
                });
                base + tile * tiles.min(MAX_TILES)
            }
            ImageRule::Patches { per_100 } => {
                let patches = size.map_or(MAX_PATCHES, |(w, h)| {
                    u64::from(w.div_ceil(32)) * u64::from(h.div_ceil(32))
                });
                (patches.min(MAX_PATCHES) * per_100).div_ceil(100)
            }
            ImageRule::Anthropic => size.map_or(ANTHROPIC_IMAGE_MAX, |(w, h)| {
                let (mut w, mut h) = (f64::from(w), f64::from(h));
                let long = w.max(h);
                if long > 1568.0 {
                    w = (w * 1568.0 / long).ceil();
                    h = (h * 1568.0 / long).ceil();
                }
                ((w * h / 750.0).ceil() as u64).min(ANTHROPIC_IMAGE_MAX)
            }),
        }
    }
}

/// OpenAI's high-detail scaling: fit in 2048 × 2048, then the shortest side
/// down to 768 px; and whether both sides stayed whole numbers of pixels.
fn openai_scaled(mut w: f64, mut h: f64) -> (f64, f64, bool) {
    let long = w.max(h);
    if long > 2048.0 {
        w = w * 2048.0 / long;
        h = h * 2048.0 / long;
    }
    let short = w.min(h);
    if short > 768.0 {
        w = w * 768.0 / short;
        h = h * 768.0 / short;
    }
    (w, h, w.fract() == 0.0 && h.fract() == 0.0)
}

/// Part and item types that carry only text (counted with the messages).
const TEXT_TYPES: &[&str] = &[
    "text",
    "input_text",
    "output_text",
    "refusal",
    "message",
    "function",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "reasoning",
    "summary_text",
    "reasoning_text",
    "search_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "web_search_call",
    "file_search_call",
    "code_interpreter_call",
    "computer_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
];

/// Whether a part of `type` carries only text.
#[must_use]
pub fn is_text_type(t: &str) -> bool {
    TEXT_TYPES.contains(&t)
}

/// OpenAI Responses tools that run in the provider (several model turns, fees per use).
const OPENAI_SERVER_TOOLS: &[&str] = &[
    "web_search",
    "web_search_preview",
    "file_search",
    "code_interpreter",
    "image_generation",
    "mcp",
];
/// OpenAI tools the client runs (one model turn per request).
const OPENAI_CLIENT_TOOLS: &[&str] = &[
    "function",
    "custom",
    "computer_use_preview",
    "computer",
    "local_shell",
    "shell",
    "apply_patch",
];

/// Tokens of Anthropic's tool-use system prompt (`tool_choice` auto; the
/// largest of the published figures per model family).
pub(crate) fn anthropic_tool_prompt(model: &str) -> u64 {
    if model.contains("claude-3-opus") {
        530
    } else {
        346
    }
}

/// Tokens an Anthropic-defined client tool adds to the prompt.
fn anthropic_tool_tokens(kind: &str) -> Option<u64> {
    let family = kind.rsplit_once('_').map_or(kind, |(f, _)| f);
    Some(match family {
        "bash" => 245,
        "text_editor" | "str_replace_editor" | "str_replace_based_edit_tool" | "memory" => 700,
        // The tool plus its share of the system prompt.
        "computer" => 735 + 499,
        _ => return None,
    })
}

/// Reads everything `body` adds to its text for `model`.
#[must_use]
pub fn scan(format: ApiFormat, body: &Map<String, Value>, model: &str, tok: Tokenizer) -> Inputs {
    let mut s = Scan {
        inputs: Inputs::default(),
        rule: ImageRule::for_model(model),
        tok,
    };
    match format {
        ApiFormat::ChatCompletions | ApiFormat::Messages => {
            if let Some(Value::Array(messages)) = body.get("messages") {
                for (i, m) in messages.iter().enumerate() {
                    s.item(m, &|| format!("messages[{i}]"));
                }
            }
        }
        ApiFormat::Responses => {
            if let Some(Value::Array(items)) = body.get("input") {
                for (i, m) in items.iter().enumerate() {
                    s.item(m, &|| format!("input[{i}]"));
                }
            }
        }
        ApiFormat::Embeddings => return s.inputs,
    }
    for field in ["previous_response_id", "conversation", "prompt"] {
        if format == ApiFormat::Responses && body.get(field).is_some_and(|v| !v.is_null()) {
            s.pull(field.to_owned());
        }
    }
    let modalities = body.get("modalities").and_then(Value::as_array);
    s.inputs.audio_output = modalities
        .is_some_and(|m| m.iter().any(|x| x.as_str() == Some("audio")))
        || body.get("audio").is_some_and(Value::is_object);
    if let Some(p) = body.get("prediction").filter(|v| !v.is_null()) {
        let text = p.get("content").map_or_else(String::new, |c| match c {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        });
        s.inputs.extra_output += u64::try_from(tok.count_text(&text)).unwrap_or(u64::MAX);
    }
    if body.get("web_search_options").is_some_and(|v| !v.is_null()) {
        s.unbounded("`web_search_options` (a server-side search)".to_owned());
    }
    if body.get("mcp_servers").is_some_and(|v| !v.is_null()) {
        s.unbounded("`mcp_servers` (server-side MCP tools)".to_owned());
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        s.tools(format, tools, model);
    }
    s.inputs
}

struct Scan {
    inputs: Inputs,
    rule: ImageRule,
    tok: Tokenizer,
}

impl Scan {
    fn unbounded(&mut self, why: String) {
        self.inputs.unbounded.get_or_insert(why);
    }

    fn pull(&mut self, field: String) {
        self.inputs.pulls_context.get_or_insert(field);
    }

    fn text_tokens(&self, text: &str) -> u64 {
        u64::try_from(self.tok.count_text(text)).unwrap_or(u64::MAX)
    }

    fn tools(&mut self, format: ApiFormat, tools: &[Value], model: &str) {
        if format == ApiFormat::Messages && !tools.is_empty() {
            self.inputs.fixed_tokens += anthropic_tool_prompt(model);
        }
        for (i, tool) in tools.iter().enumerate() {
            let Some(kind) = tool.get("type").and_then(Value::as_str) else {
                continue;
            };
            if format == ApiFormat::Messages {
                if kind == "custom" {
                    continue;
                }
                match anthropic_tool_tokens(kind) {
                    Some(n) => self.inputs.fixed_tokens += n,
                    None => self.unbounded(format!(
                        "`tools[{i}].type` = {kind:?} (a tool Anthropic runs server-side, or one iron-cage does not know)"
                    )),
                }
            } else if OPENAI_SERVER_TOOLS.iter().any(|t| kind.starts_with(t)) {
                self.unbounded(format!(
                    "`tools[{i}].type` = {kind:?} (a tool the provider runs, billed per use over several model turns)"
                ));
            } else if !OPENAI_CLIENT_TOOLS.contains(&kind) {
                self.unbounded(format!(
                    "`tools[{i}].type` = {kind:?} (a tool type iron-cage does not know)"
                ));
            }
        }
    }

    /// A message, an input item or a content part.
    fn item(&mut self, v: &Value, path: &dyn Fn() -> String) {
        let Value::Object(obj) = v else { return };
        let kind = obj.get("type").and_then(Value::as_str);
        match kind {
            None => {}
            Some(t) if is_text_type(t) => {}
            Some("image_url") => {
                let (url, detail) = match obj.get("image_url") {
                    Some(Value::String(u)) => (Some(u.as_str()), None),
                    Some(Value::Object(o)) => (
                        o.get("url").and_then(Value::as_str),
                        o.get("detail").and_then(Value::as_str),
                    ),
                    _ => (None, None),
                };
                self.image_url(url, detail);
            }
            Some("input_image" | "computer_screenshot") => {
                let url = obj.get("image_url").and_then(Value::as_str);
                let detail = obj.get("detail").and_then(Value::as_str);
                self.image_url(url, detail);
            }
            Some("image") => {
                let size = obj
                    .get("source")
                    .and_then(|s| base64_source(s, IMAGE_HEAD))
                    .and_then(|b| media::image_size(&b));
                self.inputs.media_tokens += self.rule.tokens(size, None);
            }
            Some("document") => self.document(obj, path),
            Some("file") => {
                let file = obj.get("file").and_then(Value::as_object);
                let data = file
                    .and_then(|f| f.get("file_data"))
                    .and_then(Value::as_str);
                self.file(data, path);
            }
            Some("input_file") => {
                let data = obj.get("file_data").and_then(Value::as_str);
                self.file(data, path);
            }
            Some("input_audio") => {
                let audio = obj.get("input_audio").and_then(Value::as_object);
                let data = audio.and_then(|a| a.get("data")).and_then(Value::as_str);
                let format = audio
                    .and_then(|a| a.get("format"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let millis = match data.map(|d| (d, media::decode_base64(d, usize::MAX))) {
                    Some((_, Some(bytes))) => media::audio_millis(&bytes, format),
                    // Undecodable: bounded by the size it would have.
                    Some((d, None)) => media::audio_millis(&vec![0; d.len() * 3 / 4], ""),
                    None => 0,
                };
                self.inputs.audio_tokens += (millis * AUDIO_TOKENS_PER_S).div_ceil(1000);
            }
            Some("item_reference") => self.pull(format!("`{}` (an item_reference)", path())),
            Some(other) => self.unbounded(format!(
                "`{}.type` = {other:?} (an input kind iron-cage cannot price)",
                path()
            )),
        }
        if obj.get("audio").is_some_and(Value::is_object) && kind.is_none() {
            // An assistant message that refers to audio it produced earlier.
            self.pull(format!("`{}.audio`", path()));
        }
        for key in ["content", "output"] {
            match obj.get(key) {
                Some(Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        self.item(p, &|| format!("{}.{key}[{j}]", path()));
                    }
                }
                Some(p @ Value::Object(_)) => self.item(p, &|| format!("{}.{key}", path())),
                _ => {}
            }
        }
    }

    fn image_url(&mut self, url: Option<&str>, detail: Option<&str>) {
        let size = url
            .and_then(|u| media::data_url(u, IMAGE_HEAD))
            .and_then(|(_, b)| media::image_size(&b));
        self.inputs.media_tokens += self.rule.tokens(size, detail);
    }

    fn pdf(&self, pages: Option<u64>) -> u64 {
        let pages = pages.unwrap_or(MAX_PDF_PAGES).min(MAX_PDF_PAGES);
        pages * (PDF_TEXT_PER_PAGE + self.rule.max_tokens())
    }

    /// An OpenAI file part: a PDF or text file inline, or a file by id/URL.
    fn file(&mut self, data: Option<&str>, path: &dyn Fn() -> String) {
        match data.and_then(|d| media::data_url(d, usize::MAX)) {
            Some(("application/pdf", bytes)) => {
                self.inputs.media_tokens += self.pdf(media::pdf_pages(&bytes));
            }
            // Text has at most as many tokens as bytes.
            Some((mime, bytes)) if is_text_mime(mime) => {
                self.inputs.media_tokens += bytes.len() as u64;
            }
            _ => self.pull(format!("`{}` (a file)", path())),
        }
    }

    /// An Anthropic document block.
    fn document(&mut self, obj: &Map<String, Value>, path: &dyn Fn() -> String) {
        let Some(source) = obj.get("source").and_then(Value::as_object) else {
            return;
        };
        match source.get("type").and_then(Value::as_str) {
            Some("base64") => {
                let bytes = source
                    .get("data")
                    .and_then(Value::as_str)
                    .and_then(|d| media::decode_base64(d, usize::MAX));
                let pages = bytes.as_deref().and_then(media::pdf_pages);
                self.inputs.media_tokens += self.pdf(pages);
            }
            Some("text") => {
                let text = source.get("data").and_then(Value::as_str).unwrap_or("");
                self.inputs.media_tokens += self.text_tokens(text);
            }
            Some("content") => match source.get("content") {
                Some(Value::String(t)) => self.inputs.media_tokens += self.text_tokens(t),
                Some(Value::Array(blocks)) => {
                    for (j, b) in blocks.iter().enumerate() {
                        if let Some(t) = b.get("text").and_then(Value::as_str) {
                            self.inputs.media_tokens += self.text_tokens(t);
                        }
                        self.item(b, &|| format!("{}.source.content[{j}]", path()));
                    }
                }
                _ => {}
            },
            // By URL or file id: a PDF of up to the request's page limit.
            Some("url") => self.inputs.media_tokens += self.pdf(None),
            _ => self.pull(format!("`{}.source` (a document by reference)", path())),
        }
    }
}

fn is_text_mime(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/xml" | "application/x-yaml" | "application/csv"
        )
}

/// The decoded bytes of an Anthropic base64 source (up to `limit`).
fn base64_source(source: &Value, limit: usize) -> Option<Vec<u8>> {
    if source.get("type")?.as_str()? != "base64" {
        return None;
    }
    media::decode_base64(source.get("data")?.as_str()?, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan_of(format: ApiFormat, body: &Value, model: &str) -> Inputs {
        scan(
            format,
            body.as_object().expect("object"),
            model,
            Tokenizer::O200kBase,
        )
    }

    #[test]
    fn openai_tile_rule_matches_the_published_examples() {
        let gpt4o = ImageRule::for_model("gpt-4o");
        // 1024 x 1024 high: scaled to 768 x 768, four tiles.
        assert_eq!(gpt4o.tokens(Some((1024, 1024)), Some("high")), 765);
        // 2048 x 4096: 1024 x 2048, then 768 x 1536: six tiles.
        assert_eq!(gpt4o.tokens(Some((2048, 4096)), None), 1105);
        assert_eq!(gpt4o.tokens(Some((4096, 8192)), Some("low")), 85);
        assert_eq!(gpt4o.max_tokens(), 85 + 170 * 8);
        // gpt-4o-mini bills images like gpt-4o in dollars, with 33x the tokens.
        assert_eq!(
            ImageRule::for_model("gpt-4o-mini").max_tokens(),
            2_833 + 5_667 * 8
        );
    }

    #[test]
    fn patch_and_anthropic_rules() {
        let mini = ImageRule::for_model("gpt-4.1-mini");
        // 1024 x 1024: 32 x 32 patches x 1.62.
        assert_eq!(mini.tokens(Some((1024, 1024)), None), 1_659);
        assert_eq!(
            mini.tokens(Some((8000, 8000)), None),
            (1_536u64 * 162).div_ceil(100)
        );
        let claude = ImageRule::for_model("claude-sonnet-4-5");
        assert_eq!(claude.tokens(Some((1000, 1000)), None), 1_334);
        assert_eq!(claude.tokens(Some((200, 200)), None), 54);
        assert_eq!(claude.tokens(Some((8000, 8000)), None), 1_600);
        assert_eq!(claude.max_tokens(), 1_600);
    }

    #[test]
    fn every_kind_is_found_where_it_sits() {
        let body = json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://x/dog.png"}},
            ]},
        ]});
        let i = scan_of(ApiFormat::ChatCompletions, &body, "gpt-4o");
        assert_eq!(i.media_tokens, 85 + 85 + 170 * 8);
        assert!(i.unbounded.is_none() && i.pulls_context.is_none());
        // An unknown part type is never counted as nothing.
        let odd =
            json!({"messages": [{"role": "user", "content": [{"type": "hologram", "data": "x"}]}]});
        let i = scan_of(ApiFormat::ChatCompletions, &odd, "gpt-4o");
        assert!(
            i.unbounded
                .as_deref()
                .is_some_and(|w| w.contains("messages[0].content[0].type")),
            "{i:?}"
        );
        // Anthropic tool results may hold images; tool input objects are not parts.
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}]},
            {"type": "tool_use", "id": "t2", "name": "f", "input": {"type": "car"}},
        ]}], "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
        let i = scan_of(ApiFormat::Messages, &body, "claude-sonnet-4-5");
        assert_eq!(i.media_tokens, 1_600);
        assert_eq!(i.fixed_tokens, 346);
        assert!(i.unbounded.is_none(), "{i:?}");
    }

    #[test]
    fn references_and_server_tools() {
        let r = json!({"input": "more", "previous_response_id": "resp_1"});
        let i = scan_of(ApiFormat::Responses, &r, "gpt-5");
        assert_eq!(i.pulls_context.as_deref(), Some("previous_response_id"));
        let r = json!({"input": "find it", "tools": [{"type": "web_search"}]});
        assert!(scan_of(ApiFormat::Responses, &r, "gpt-5")
            .unbounded
            .is_some_and(|w| w.contains("web_search")));
        let r =
            json!({"input": "f", "tools": [{"type": "function", "name": "f", "parameters": {}}]});
        assert!(scan_of(ApiFormat::Responses, &r, "gpt-5").is_text_only());
        let a = json!({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]});
        assert!(scan_of(ApiFormat::Messages, &a, "claude-sonnet-4-5")
            .unbounded
            .is_some());
        let a = json!({"messages": [], "tools": [{"type": "bash_20250124", "name": "bash"}]});
        assert_eq!(
            scan_of(ApiFormat::Messages, &a, "claude-sonnet-4-5").fixed_tokens,
            346 + 245
        );
        let chat = json!({"messages": [], "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}});
        assert!(scan_of(ApiFormat::ChatCompletions, &chat, "gpt-audio").audio_output);
    }
}
