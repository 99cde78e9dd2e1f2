//! Facts read from the media a request carries: image sizes, PDF page counts,
//! audio durations, and the payloads of `data:` URLs.
//!
//! Every reader answers `None` when it cannot be sure; the caller then assumes
//! the most the provider would bill. Nothing here decodes pixels or samples:
//! image sizes come from the file header, PDF pages from the page objects, and
//! audio durations from the WAV header or a walk over the MP3 frame headers.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Base64 as providers accept it: padding optional.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Bytes of an image payload decoded to find its size: headers sit at the start
/// (a JPEG's frame header may follow metadata, which rarely passes this).
pub const IMAGE_HEAD: usize = 256 * 1024;

/// Decodes base64 `data` (up to `limit` decoded bytes; all of it with `usize::MAX`).
#[must_use]
pub fn decode_base64(data: &str, limit: usize) -> Option<Vec<u8>> {
    let data = data.trim();
    let take = if limit == usize::MAX {
        data.len()
    } else {
        // Four characters carry three bytes.
        (limit.div_ceil(3) * 4).min(data.len())
    };
    let chunk = &data.as_bytes()[..take];
    // A prefix cut inside a quartet decodes up to the last whole one.
    let whole = if take < data.len() {
        &chunk[..take - take % 4]
    } else {
        chunk
    };
    B64.decode(whole).ok()
}

/// The media type and (up to `limit`) decoded bytes of a `data:` URL; `None`
/// for any other URL or a payload that is not valid base64.
#[must_use]
pub fn data_url(url: &str, limit: usize) -> Option<(&str, Vec<u8>)> {
    let rest = url.trim_start().strip_prefix("data:")?;
    let (meta, payload) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, decode_base64(payload, limit)?))
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Width and height of a PNG, JPEG, GIF or WebP image from its header.
#[must_use]
pub fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    let size = if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR") {
        let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
        (w, h)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        (le16(b, 6)?, le16(b, 8)?)
    } else if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        webp_size(b)?
    } else if b.starts_with(&[0xFF, 0xD8]) {
        jpeg_size(b)?
    } else {
        return None;
    };
    (size.0 > 0 && size.1 > 0).then_some(size)
}

fn webp_size(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => Some((le16(b, 26)? & 0x3fff, le16(b, 28)? & 0x3fff)),
        b"VP8L" => {
            let bits = le32(b, 21)?;
            Some((1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)))
        }
        b"VP8X" => Some((1 + le24(b, 24)?, 1 + le24(b, 27)?)),
        _ => None,
    }
}

fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        // Markers may be preceded by fill bytes.
        while *b.get(i)? == 0xFF && *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        i += 2;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            // Start of frame (not DHT, JPG or DAC): precision, height, width.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(b, i + 5)?, be16(b, i + 3)?));
            }
            _ => i += usize::try_from(be16(b, i)?).ok()?,
        }
    }
}

/// Pages of a PDF, counted from its page objects; `None` when the file is not
/// a PDF or keeps its objects in compressed streams (then they cannot be seen).
#[must_use]
pub fn pdf_pages(b: &[u8]) -> Option<u64> {
    if !b.starts_with(b"%PDF") || memchr::memmem::find(b, b"/ObjStm").is_some() {
        return None;
    }
    let mut pages = 0;
    for at in memchr::memmem::find_iter(b, b"/Type") {
        let mut rest = &b[at + 5..];
        while let [c, tail @ ..] = rest {
            if !c.is_ascii_whitespace() {
                break;
            }
            rest = tail;
        }
        // `/Page` but not `/Pages`: the next byte ends the name.
        if rest.starts_with(b"/Page")
            && !rest
                .get(5)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            pages += 1;
        }
    }
    (pages > 0).then_some(pages)
}

/// The lowest bitrate any audio format the providers take is encoded at
/// (6 kbit/s, Opus's floor), in bytes per second: bounds a duration from the
/// size alone.
const MIN_AUDIO_BYTES_PER_S: u64 = 750;

/// Milliseconds of audio (rounded up): exact for WAV and PCM16 (24 kHz mono, as
/// OpenAI takes it), from the frame headers for MP3, and otherwise an upper
/// bound from the size at the lowest bitrate any codec uses.
#[must_use]
pub fn audio_millis(b: &[u8], format: &str) -> u64 {
    let len = b.len() as u64;
    let bound = (len * 1000).div_ceil(MIN_AUDIO_BYTES_PER_S);
    let exact = match format.to_ascii_lowercase().as_str() {
        "wav" | "wave" => wav_millis(b),
        "mp3" | "mpeg" => mp3_millis(b),
        "pcm16" | "pcm" => Some((len * 1000).div_ceil(48_000)),
        _ => None,
    };
    exact.unwrap_or(bound)
}

fn wav_millis(b: &[u8]) -> Option<u64> {
    if !b.starts_with(b"RIFF") || b.get(8..12) != Some(b"WAVE") {
        return None;
    }
    let (mut i, mut byte_rate) = (12, None);
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let size = u64::from(le32(b, i + 4)?);
        match id {
            b"fmt " => byte_rate = Some(u64::from(le32(b, i + 16)?)).filter(|&r| r > 0),
            b"data" => {
                // A streamed WAV may leave the size unset: the rest of the file is data.
                let body = (b.len() - i - 8) as u64;
                let size = if size == 0 || size == u64::from(u32::MAX) {
                    body
                } else {
                    size.min(body)
                };
                return Some((size * 1000).div_ceil(byte_rate?));
            }
            _ => {}
        }
        let size = usize::try_from(size).ok()?;
        i = i.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// Kilobits per second by MPEG version (1, or 2/2.5) and layer (I, II, III).
const MP3_BITRATES: [[[u16; 15]; 3]; 2] = [
    [
        [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
    ],
    [
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ],
];

/// The duration of an MP3 from its frames; `None` unless the frames account
/// for nearly all of the file.
fn mp3_millis(b: &[u8]) -> Option<u64> {
    let mut i = 0;
    if b.starts_with(b"ID3") {
        let s = b.get(6..10)?;
        let size = s
            .iter()
            .fold(0usize, |acc, &x| (acc << 7) | usize::from(x & 0x7f));
        let footer = if b.get(5)? & 0x10 != 0 { 10 } else { 0 };
        i = 10 + size + footer;
    }
    let start = i;
    let mut micros: u64 = 0;
    while i + 4 <= b.len() {
        let h = u32::from_be_bytes(b[i..i + 4].try_into().ok()?);
        if h >> 21 != 0x7FF {
            break;
        }
        let version = (h >> 19) & 3; // 0: 2.5, 2: 2, 3: 1
        let layer = (h >> 17) & 3; // 1: III, 2: II, 3: I
        let rate_idx = ((h >> 12) & 0xF) as usize;
        let sr_idx = ((h >> 10) & 3) as usize;
        if version == 1 || layer == 0 || rate_idx == 0 || rate_idx == 15 || sr_idx == 3 {
            break;
        }
        let padding = u64::from((h >> 9) & 1);
        let v1 = version == 3;
        let sample_rate = [44_100u64, 48_000, 32_000][sr_idx]
            >> match version {
                3 => 0,
                2 => 1,
                _ => 2,
            };
        let layer_idx = (3 - layer) as usize; // 0: I, 1: II, 2: III
        let kbps = u64::from(MP3_BITRATES[usize::from(!v1)][layer_idx][rate_idx]);
        let (samples, len) = match layer_idx {
            0 => (384, (12 * kbps * 1000 / sample_rate + padding) * 4),
            1 => (1152, 144 * kbps * 1000 / sample_rate + padding),
            _ => {
                let samples = if v1 { 1152 } else { 576 };
                (samples, samples / 8 * kbps * 1000 / sample_rate + padding)
            }
        };
        if len < 4 {
            break;
        }
        micros += (samples * 1_000_000).div_ceil(sample_rate);
        i += usize::try_from(len).ok()?;
    }
    let covered = i.min(b.len()) - start.min(b.len());
    // Trailing tags (ID3v1, 128 bytes; APE) may follow the last frame.
    (micros > 0 && covered + 4096 >= b.len() - start.min(b.len())).then(|| micros.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]);
        b
    }

    #[test]
    fn image_sizes_from_headers() {
        assert_eq!(image_size(&png(4000, 3000)), Some((4000, 3000)));
        let gif = [b"GIF89a".as_slice(), &[0x20, 0x03, 0x58, 0x02]].concat();
        assert_eq!(image_size(&gif), Some((800, 600)));
        // JPEG: an APP0 segment, then a baseline frame header.
        let jpeg = [
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0][..],
            &[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x04, 0x38, 0x07, 0x80],
        ]
        .concat();
        assert_eq!(image_size(&jpeg), Some((1920, 1080)));
        // WebP lossless: 14-bit width and height minus one.
        let (w, h) = (1023u32, 767u32);
        let bits = (w - 1) | (h - 1) << 14;
        let mut webp = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        webp.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(image_size(&webp), Some((w, h)));
        assert_eq!(image_size(b"not an image"), None);
        assert_eq!(image_size(&png(0, 10)), None);
    }

    #[test]
    fn data_urls_decode_and_prefixes_stop_at_whole_quartets() {
        let url = format!("data:image/png;base64,{}", B64.encode(png(640, 480)));
        let (mime, bytes) = data_url(&url, usize::MAX).expect("decodes");
        assert_eq!((mime, image_size(&bytes)), ("image/png", Some((640, 480))));
        let (_, head) = data_url(&url, 10).expect("a prefix decodes");
        assert!(head.len() >= 10 && head.len() < 16);
        assert!(data_url("https://example.com/cat.png", 10).is_none());
        assert!(data_url("data:image/png;base64,@@@@", 10).is_none());
    }

    #[test]
    fn pdf_pages_are_counted_unless_hidden() {
        let pdf = b"%PDF-1.4\n1 0 obj <</Type /Pages /Count 3>>\n2 0 obj <</Type/Page>>\n3 0 obj <</Type /Page /Parent 1 0 R>>\n4 0 obj <</Type\n/Page>>";
        assert_eq!(pdf_pages(pdf), Some(3));
        assert_eq!(pdf_pages(b"%PDF-1.7 5 0 obj <</Type /ObjStm>>"), None);
        assert_eq!(pdf_pages(b"hello"), None);
    }

    #[test]
    fn audio_durations() {
        // 2.5 s of 16 kHz mono 16-bit WAV.
        let data = vec![0u8; 80_000];
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0".to_vec();
        wav.extend_from_slice(&16_000u32.to_le_bytes());
        wav.extend_from_slice(&32_000u32.to_le_bytes());
        wav.extend_from_slice(&[2, 0, 16, 0]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&80_000u32.to_le_bytes());
        wav.extend_from_slice(&data);
        assert_eq!(audio_millis(&wav, "wav"), 2_500);
        // MP3: 100 frames of MPEG-1 Layer III, 128 kbit/s, 44.1 kHz (417 bytes each).
        let frame = {
            let mut f = vec![0xFF, 0xFB, 0x90, 0x00];
            f.resize(417, 0);
            f
        };
        let mp3 = frame.repeat(100);
        let ms = audio_millis(&mp3, "mp3");
        // 26,123 us a frame (rounded up), 100 frames.
        assert_eq!(ms, 2_613);
        // Unknown framing: bounded from the size at 6 kbit/s.
        assert_eq!(audio_millis(&[1u8; 7_500], "mp3"), 10_000);
        assert_eq!(audio_millis(&[1u8; 7_500], "flac"), 10_000);
    }
}
