//! An incremental Server-Sent Events parser that keeps each event's raw bytes,
//! so events that are not rewritten pass through unchanged.

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The event exactly as received, terminating blank line included.
    pub raw: String,
}

impl SseEvent {
    /// Serialises an event with `event` (optional) and `data`.
    #[must_use]
    pub fn encode(event: Option<&str>, data: &str) -> String {
        let mut out = String::with_capacity(data.len() + 32);
        if let Some(e) = event {
            out.push_str("event: ");
            out.push_str(e);
            out.push('\n');
        }
        for line in data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

/// Splits a byte stream into events; partial events wait for more bytes.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// A new parser.
    #[must_use]
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Adds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((end, term)) = find_blank_line(&self.buf) {
            let raw_bytes: Vec<u8> = self.buf.drain(..end + term).collect();
            let raw = String::from_utf8_lossy(&raw_bytes).into_owned();
            out.push(parse_event(raw));
        }
        out
    }

    /// Bytes of an unfinished event (a stream cut mid-event).
    #[must_use]
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the unfinished rest (at the end of a stream without a final blank line).
    pub fn take_rest(&mut self) -> Option<SseEvent> {
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            self.buf.clear();
            return None;
        }
        let raw = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
        Some(parse_event(raw))
    }
}

/// The end of the first event: index of its blank line and the terminator length.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some((i, 2));
            }
            if buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, 3));
            }
        } else if buf[i] == b'\r'
            && buf[i + 1] == b'\n'
            && buf.get(i + 2) == Some(&b'\r')
            && buf.get(i + 3) == Some(&b'\n')
        {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

fn parse_event(raw: String) -> SseEvent {
    let mut event = None;
    let mut data: Option<String> = None;
    for line in raw.lines() {
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    SseEvent {
        event,
        data: data.unwrap_or_default(),
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere() {
        let text = "event: a\ndata: {\"x\":1}\n\ndata: two\ndata: lines\n\r\n: comment\n\ndata: [DONE]\n\n";
        for cut in 0..text.len() {
            let mut p = SseParser::new();
            let mut evs = p.feed(&text.as_bytes()[..cut]);
            evs.extend(p.feed(&text.as_bytes()[cut..]));
            assert_eq!(evs.len(), 4, "cut at {cut}");
            assert_eq!(evs[0].event.as_deref(), Some("a"));
            assert_eq!(evs[0].data, "{\"x\":1}");
            assert_eq!(evs[1].data, "two\nlines");
            assert_eq!(evs[3].data, "[DONE]");
            let joined: String = evs.iter().map(|e| e.raw.as_str()).collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn encode_roundtrips() {
        let raw = SseEvent::encode(Some("message_delta"), "{\"a\":\n1}");
        let mut p = SseParser::new();
        let ev = p.feed(raw.as_bytes()).pop().expect("one");
        assert_eq!(ev.event.as_deref(), Some("message_delta"));
        assert_eq!(ev.data, "{\"a\":\n1}");
    }
}
