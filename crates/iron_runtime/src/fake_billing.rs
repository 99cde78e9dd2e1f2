//! How `FakeProvider` bills what a request sends beyond its text: images,
//! PDFs, text files, audio and context by reference, following the providers'
//! published rules with the whole-pixel rounding an image server applies.
//!
//! It is written apart from the estimator in `iron_llm::inputs` on purpose:
//! tests check that what iron-cage reserves covers what this bills, so the two
//! must not share their arithmetic. (Headers are read with the same sniffers:
//! the size of an image is a fact, not a rule.)

use iron_cost::Tokenizer;
use iron_llm::media;
use iron_llm::ApiFormat;
use serde_json::Value;

/// Input tokens the fake adds for context it is asked to pull in by reference
/// (a stored response, a conversation, a file by id).
pub const REFERENCED_CONTEXT: u64 = 50_000;
/// Text tokens per PDF page.
const PAGE_TEXT: u64 = 1_200;
/// A US letter page rendered at 150 dpi.
const PAGE_PIXELS: (u64, u64) = (1_275, 1_650);
/// The size billed for an image fetched by URL (the fake fetches nothing):
/// the largest any tile rule counts.
const URL_IMAGE: (u64, u64) = (3_072, 8_192);

/// What the fake bills beyond text.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Billed {
    /// Image, document and referenced-context tokens (input rate).
    pub input: u64,
    /// Audio input tokens.
    pub audio: u64,
}

enum Rule {
    Tiles(u64, u64),
    Patches(f64),
    Claude,
}

fn rule(model: &str) -> Rule {
    let m = model.to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m);
    let table: [(&str, Rule); 13] = [
        ("claude", Rule::Claude),
        ("gpt-4.1-mini", Rule::Patches(1.62)),
        ("gpt-5-mini", Rule::Patches(1.62)),
        ("gpt-4.1-nano", Rule::Patches(2.46)),
        ("gpt-5-nano", Rule::Patches(2.46)),
        ("o4-mini", Rule::Patches(1.72)),
        ("gpt-4o-mini", Rule::Tiles(2_833, 5_667)),
        ("gpt-4o", Rule::Tiles(85, 170)),
        ("gpt-4.1", Rule::Tiles(85, 170)),
        ("o1", Rule::Tiles(75, 150)),
        ("o3", Rule::Tiles(75, 150)),
        ("computer-use", Rule::Tiles(65, 129)),
        ("gpt-5", Rule::Tiles(70, 140)),
    ];
    table
        .into_iter()
        .find(|(prefix, _)| m.starts_with(prefix))
        .map_or(Rule::Tiles(85, 170), |(_, r)| r)
}

/// Whole-pixel resize of `(w, h)` so that `side(w, h)` becomes `to`.
fn shrink(w: u64, h: u64, side: u64, to: u64) -> (u64, u64) {
    if side <= to {
        (w, h)
    } else {
        (w * to / side, h * to / side)
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn image_tokens(rule: &Rule, (w, h): (u64, u64), detail: Option<&str>) -> u64 {
    match *rule {
        Rule::Claude => {
            let (w, h) = shrink(w, h, w.max(h), 1_568);
            (w * h).div_ceil(750).min(1_600)
        }
        Rule::Patches(multiplier) => {
            let (wf, hf) = (w as f64, h as f64);
            let mut patches = w.div_ceil(32) * h.div_ceil(32);
            if patches > 1_536 {
                // Scale to fit 1,536 patches, then to a whole number of patches across.
                let s = (32.0 * 32.0 * 1_536.0 / (wf * hf)).sqrt();
                let (w2, h2) = (wf * s, hf * s);
                let s2 = (w2 / 32.0).floor() / (w2 / 32.0);
                let (w3, h3) = (w2 * s2, h2 * s2);
                patches = ((w3 / 32.0).ceil() * (h3 / 32.0).ceil()) as u64;
                patches = patches.min(1_536);
            }
            (patches as f64 * multiplier).round() as u64
        }
        Rule::Tiles(base, tile) => {
            if detail == Some("low") {
                return base;
            }
            let (w, h) = shrink(w, h, w.max(h), 2_048);
            let (w, h) = shrink(w, h, w.min(h), 768);
            base + tile * (w.div_ceil(512) * h.div_ceil(512))
        }
    }
}

fn s(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

struct Biller {
    rule: Rule,
    tok: Tokenizer,
    billed: Billed,
}

impl Biller {
    fn image(&mut self, bytes: Option<Vec<u8>>, detail: Option<&str>) {
        let size = match bytes {
            Some(b) => match media::image_size(&b) {
                Some((w, h)) => (u64::from(w), u64::from(h)),
                // Not an image the provider could read: it would refuse the request.
                None => return,
            },
            None => URL_IMAGE,
        };
        self.billed.input += image_tokens(&self.rule, size, detail);
    }

    fn pdf(&mut self, bytes: &[u8]) {
        let pages = media::pdf_pages(bytes).unwrap_or(100);
        let page = image_tokens(&self.rule, PAGE_PIXELS, Some("high"));
        self.billed.input += pages * (PAGE_TEXT + page);
    }

    fn file(&mut self, data: Option<&str>) {
        match data.and_then(|d| media::data_url(d, usize::MAX)) {
            Some(("application/pdf", bytes)) => self.pdf(&bytes),
            Some((_, bytes)) => self.billed.input += (bytes.len() as u64).div_ceil(4),
            None => self.billed.input += REFERENCED_CONTEXT,
        }
    }

    fn part(&mut self, obj: &serde_json::Map<String, Value>) {
        match s(obj.get("type")) {
            Some("image_url") => {
                let iu = obj.get("image_url");
                let url = s(iu.and_then(|v| v.get("url"))).or_else(|| s(iu));
                let detail = s(iu.and_then(|v| v.get("detail")));
                self.image(
                    url.and_then(|u| media::data_url(u, usize::MAX))
                        .map(|x| x.1),
                    detail,
                );
            }
            Some("input_image" | "computer_screenshot") => {
                let url = s(obj.get("image_url"));
                let bytes = url
                    .and_then(|u| media::data_url(u, usize::MAX))
                    .map(|x| x.1);
                self.image(bytes, s(obj.get("detail")));
            }
            Some("image") => {
                let src = obj.get("source");
                let bytes = match s(src.and_then(|v| v.get("type"))) {
                    Some("base64") => s(src.and_then(|v| v.get("data")))
                        .and_then(|d| media::decode_base64(d, usize::MAX)),
                    _ => None,
                };
                self.image(bytes, None);
            }
            Some("document") => {
                let src = obj.get("source");
                match s(src.and_then(|v| v.get("type"))) {
                    Some("base64") => {
                        if let Some(b) = s(src.and_then(|v| v.get("data")))
                            .and_then(|d| media::decode_base64(d, usize::MAX))
                        {
                            self.pdf(&b);
                        }
                    }
                    Some("text") => {
                        let text = s(src.and_then(|v| v.get("data"))).unwrap_or("");
                        self.billed.input += self.tok.count_text(text) as u64;
                    }
                    _ => self.billed.input += REFERENCED_CONTEXT,
                }
            }
            Some("file") => self.file(s(obj.get("file").and_then(|f| f.get("file_data")))),
            Some("input_file") => self.file(s(obj.get("file_data"))),
            Some("input_audio") => {
                let a = obj.get("input_audio");
                if let Some(bytes) = s(a.and_then(|v| v.get("data")))
                    .and_then(|d| media::decode_base64(d, usize::MAX))
                {
                    let format = s(a.and_then(|v| v.get("format"))).unwrap_or("wav");
                    // One token per 100 ms of audio.
                    self.billed.audio += media::audio_millis(&bytes, format).div_ceil(100);
                }
            }
            Some("item_reference") => self.billed.input += REFERENCED_CONTEXT,
            _ => {}
        }
    }

    /// Every part anywhere in `v`, but inside tool arguments and inputs (data, not parts).
    fn walk(&mut self, v: &Value) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(obj) => {
                self.part(obj);
                for (k, child) in obj {
                    if !matches!(k.as_str(), "input" | "arguments" | "source" | "image_url") {
                        self.walk(child);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What `req` is billed beyond its text by `model`.
pub(crate) fn bill(format: ApiFormat, req: &Value, model: &str, tok: Tokenizer) -> Billed {
    let mut b = Biller {
        rule: rule(model),
        tok,
        billed: Billed::default(),
    };
    let key = if format == ApiFormat::Responses {
        "input"
    } else {
        "messages"
    };
    if let Some(v) = req.get(key) {
        b.walk(v);
    }
    for reference in ["previous_response_id", "conversation", "prompt"] {
        if format == ApiFormat::Responses && req.get(reference).is_some_and(|v| !v.is_null()) {
            b.billed.input += REFERENCED_CONTEXT;
        }
    }
    b.billed
}

#[cfg(test)]
mod tests {
    use super::*;
    use iron_llm::inputs::ImageRule;

    #[test]
    fn the_estimate_covers_the_bill_for_every_size() {
        let models = [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "gpt-5",
            "gpt-5-mini",
            "o3",
            "o4-mini",
            "computer-use-preview",
            "claude-haiku-4-5",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..200_000 {
            let model = models[usize::try_from(next(models.len() as u64)).expect("small")];
            // Mostly ordinary sizes, some extreme aspect ratios.
            let (wide, tall) = (next(4) == 0, next(4) == 0);
            let w = 1 + next(if wide { 20_000 } else { 5_000 });
            let h = 1 + next(if tall { 20_000 } else { 5_000 });
            let detail = [None, Some("low"), Some("high"), Some("auto")]
                [usize::try_from(next(4)).expect("small")];
            let billed = image_tokens(&rule(model), (w, h), detail);
            let size = (
                u32::try_from(w).expect("small"),
                u32::try_from(h).expect("small"),
            );
            let estimate = ImageRule::for_model(model);
            let reserved = estimate.tokens(Some(size), detail);
            assert!(
                reserved >= billed,
                "{model} {w}x{h} {detail:?}: {reserved} < {billed}"
            );
            assert!(estimate.max_tokens() >= billed, "{model} {w}x{h}");
        }
    }

    #[test]
    fn published_examples() {
        let gpt4o = rule("gpt-4o");
        assert_eq!(image_tokens(&gpt4o, (1024, 1024), Some("high")), 765);
        assert_eq!(image_tokens(&gpt4o, (2048, 4096), None), 1105);
        assert_eq!(image_tokens(&gpt4o, URL_IMAGE, None), 85 + 170 * 8);
        assert_eq!(
            image_tokens(&rule("claude-haiku-4-5"), (1092, 1092), None),
            1590
        );
        assert_eq!(
            image_tokens(&rule("gpt-4.1-mini"), (1024, 1024), None),
            1659
        );
    }
}
