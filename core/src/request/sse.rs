//! The one Server-Sent Events framer of the core (WHATWG HTML "event stream interpretation"),
//! used by the response filter and by manifest publishing.
//!
//! Rules: a line ends at CRLF, LF or a lone CR (a CR at the end of one chunk and an LF at the
//! start of the next are one line end); an event ends at a blank line; a line starting with `:` is
//! a comment; `name:value` is a field (one leading space of the value stripped), a line without a
//! colon is a field with an empty value; the values of the `data` lines of an event are joined
//! with LF; a UTF-8 BOM at the start of the stream is ignored. The framer is streaming: bytes go
//! in as they arrive, and each event comes out, with its exact raw bytes, as soon as its blank line
//! is complete.

/// One line of an event, as offsets into the event's raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// First byte of the line (after a BOM on the stream's first line).
    pub start: usize,
    /// First byte of the line terminator (end of the content).
    pub content_end: usize,
    /// One past the terminator.
    pub end: usize,
}

/// A field of a line: what a client makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// A comment line (`:...`) or an empty line.
    Other,
    /// A `data` field whose value is `raw[value_start..content_end]`.
    Data { value_start: usize },
    /// Any other field (`event`, `id`, `retry`, unknown names).
    Named,
}

/// One event (or, at the end of a stream, the bytes of an unterminated one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The exact bytes, blank line included.
    pub raw: Vec<u8>,
    /// The lines, the blank line last when the event is complete.
    pub lines: Vec<Line>,
    /// Whether the blank line was seen.
    pub complete: bool,
}

impl Event {
    /// What a client reads from `line`.
    pub(crate) fn field(&self, line: &Line) -> Field {
        let content = &self.raw[line.start..line.content_end];
        if content.is_empty() || content[0] == b':' {
            return Field::Other;
        }
        let (name, value_start) = match content.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = line.start + i + 1;
                let skip = usize::from(self.raw.get(v) == Some(&b' ') && v < line.content_end);
                (&content[..i], v + skip)
            }
            None => (content, line.content_end),
        };
        if name == b"data" {
            Field::Data { value_start }
        } else {
            Field::Named
        }
    }

    /// The `(value_start, value_end)` of every `data` line, in order.
    pub(crate) fn data_spans(&self) -> Vec<(usize, usize)> {
        self.lines
            .iter()
            .filter_map(|l| match self.field(l) {
                Field::Data { value_start } => Some((value_start, l.content_end)),
                _ => None,
            })
            .collect()
    }

    /// The event's data (the `data` values joined with LF), `None` without a `data` line.
    pub(crate) fn data(&self) -> Option<Vec<u8>> {
        let spans = self.data_spans();
        if spans.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for (i, (s, e)) in spans.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(&self.raw[*s..*e]);
        }
        Some(out)
    }
}

/// What the framer hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete event.
    Event(Event),
    /// The LF of a CRLF whose CR ended the previous event (it arrived in a later chunk); not part
    /// of any event, forwarded as it is.
    Stray(u8),
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The streaming framer.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    lines: Vec<Line>,
    line_start: usize,
    /// The previous byte was a CR: an LF now belongs to that line end.
    after_cr: bool,
    /// The stream's first line is complete (the BOM rule applies to it only).
    first_line_done: bool,
}

impl Framer {
    /// A framer at the start of a stream.
    pub(crate) fn new() -> Framer {
        Framer::default()
    }

    /// Bytes of the current, unfinished event held by the framer.
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    /// Feed bytes; complete events (and stray LFs) are appended to `out`.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) {
        let mut i = 0;
        while i < chunk.len() {
            if self.after_cr {
                self.after_cr = false;
                if chunk[i] == b'\n' {
                    i += 1;
                    if self.buf.is_empty() {
                        out.push(Frame::Stray(b'\n'));
                    } else {
                        // The CR ended a line of the current event: the LF joins its terminator.
                        self.buf.push(b'\n');
                        if let Some(l) = self.lines.last_mut() {
                            l.end += 1;
                        }
                        self.line_start = self.buf.len();
                    }
                    continue;
                }
            }
            let rest = &chunk[i..];
            let Some(p) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.buf.extend_from_slice(rest);
                return;
            };
            let before = self.buf.len();
            self.buf.extend_from_slice(&rest[..p]);
            let term = rest[p];
            let content_end = before + p;
            self.buf.push(term);
            let mut consumed = p + 1;
            if term == b'\r' {
                if rest.get(p + 1) == Some(&b'\n') {
                    self.buf.push(b'\n');
                    consumed += 1;
                } else if p + 1 == rest.len() {
                    self.after_cr = true;
                }
            }
            let start = self.content_start();
            self.first_line_done = true;
            i += consumed;
            let line = Line {
                start,
                content_end,
                end: self.buf.len(),
            };
            self.lines.push(line);
            self.line_start = self.buf.len();
            if content_end == start {
                out.push(Frame::Event(Event {
                    raw: std::mem::take(&mut self.buf),
                    lines: std::mem::take(&mut self.lines),
                    complete: true,
                }));
                self.line_start = 0;
            }
        }
    }

    /// Where the content of the current line starts: after a BOM on the stream's first line.
    fn content_start(&self) -> usize {
        let s = self.line_start;
        if !self.first_line_done && s == 0 && self.buf.starts_with(BOM) {
            BOM.len()
        } else {
            s
        }
    }

    /// End of stream: the unterminated event, if any bytes are held (a trailing partial line
    /// counts as a line).
    pub(crate) fn finish(&mut self) -> Option<Event> {
        if self.buf.is_empty() {
            return None;
        }
        if self.line_start < self.buf.len() {
            let start = self.content_start();
            self.first_line_done = true;
            self.lines.push(Line {
                start,
                content_end: self.buf.len(),
                end: self.buf.len(),
            });
        }
        self.line_start = 0;
        Some(Event {
            raw: std::mem::take(&mut self.buf),
            lines: std::mem::take(&mut self.lines),
            complete: false,
        })
    }
}

/// Every event of a complete stream, the unterminated tail last.
pub(crate) fn events(body: &[u8]) -> Vec<Event> {
    let mut f = Framer::new();
    let mut frames = Vec::new();
    f.push(body, &mut frames);
    let mut out: Vec<Event> = frames
        .into_iter()
        .filter_map(|fr| match fr {
            Frame::Event(e) => Some(e),
            Frame::Stray(_) => None,
        })
        .collect();
    out.extend(f.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(chunks: &[&[u8]]) -> (Vec<Frame>, Option<Event>) {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        let tail = f.finish();
        (out, tail)
    }

    fn datas(body: &[u8]) -> Vec<Option<String>> {
        events(body)
            .iter()
            .map(|e| e.data().map(|d| String::from_utf8(d).unwrap()))
            .collect()
    }

    #[test]
    fn line_ends_lf_cr_crlf_and_mixed() {
        for body in [
            &b"data: a\ndata: b\n\n"[..],
            b"data: a\rdata: b\r\r",
            b"data: a\r\ndata: b\r\n\r\n",
            b"data: a\rdata: b\r\n\n",
            b"data: a\ndata: b\r\r\n",
        ] {
            assert_eq!(datas(body), vec![Some("a\nb".to_string())], "{body:?}");
        }
    }

    #[test]
    fn fields_comments_and_spaces() {
        let evs = events(b": c\nevent: x\ndata\ndata:  two\ndata:three\nid: 7\n\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data().unwrap(), b"\n two\nthree");
        assert_eq!(datas(b"\xEF\xBB\xBFdata: a\n\n"), vec![Some("a".into())]);
        assert_eq!(datas(b"event: e\n\n"), vec![None]);
        // "data" followed by other text is another field name.
        assert_eq!(datas(b"datax: a\n\n"), vec![None]);
    }

    #[test]
    fn raw_bytes_are_kept_at_every_split() {
        let body = b"data: a\r\n\r\n: c\r\rdata: b\n\ndata: tail";
        let whole = {
            let (f, t) = frame_all(&[body]);
            (f, t)
        };
        for cut in 0..=body.len() {
            for cut2 in cut..=body.len() {
                let (frames, tail) = frame_all(&[&body[..cut], &body[cut..cut2], &body[cut2..]]);
                let mut bytes = Vec::new();
                let mut evs = Vec::new();
                for fr in &frames {
                    match fr {
                        Frame::Event(e) => {
                            bytes.extend_from_slice(&e.raw);
                            evs.push(e.data());
                        }
                        Frame::Stray(b) => bytes.push(*b),
                    }
                }
                let tail = tail.unwrap();
                bytes.extend_from_slice(&tail.raw);
                assert_eq!(bytes, body, "cut {cut} {cut2}");
                assert_eq!(evs, vec![Some(b"a".to_vec()), None, Some(b"b".to_vec())]);
                assert_eq!(tail.data(), Some(b"tail".to_vec()));
                assert!(!tail.complete);
            }
        }
        assert_eq!(whole.0.len(), 3);
    }

    #[test]
    fn cr_at_chunk_end_then_lf_is_one_line_end() {
        let (frames, tail) = frame_all(&[b"data: a\r", b"\n\r", b"\ndata: b\n\n"]);
        assert!(tail.is_none());
        assert_eq!(frames.len(), 3);
        match &frames[0] {
            Frame::Event(e) => assert_eq!(e.raw, b"data: a\r\n\r"),
            f => panic!("{f:?}"),
        }
        assert_eq!(frames[1], Frame::Stray(b'\n'));
        match &frames[2] {
            Frame::Event(e) => assert_eq!(e.data().unwrap(), b"b"),
            f => panic!("{f:?}"),
        }
    }
}
