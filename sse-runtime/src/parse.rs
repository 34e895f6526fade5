//! The WHATWG event-stream parser ("Parsing an event stream" and "Interpreting an event
//! stream"): bytes in any chunking, [`Frame`]s out. The project's one parser: the client
//! (`client`) and the test client (`actix_sse::test::Parser`) both read through it.
//!
//! Lines end at CRLF, LF or a lone CR (also across chunks); one leading BOM is skipped;
//! `:` lines are comments; a line without colon is a field with an empty value; one
//! U+0020 after the colon is removed; `id` with NUL is ignored; `retry` counts only when
//! it is ASCII digits; invalid UTF-8 reads as U+FFFD. Field lines are scanned with
//! `memchr` and read straight from the chunk when a line lies within it.

use std::{sync::Arc, time::Duration};

/// What a [`Parser`] reads from the stream, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An empty line ended a block of fields: an event if the block had `data`.
    Dispatch(Block),
    /// A comment line (the text after the colon, one leading space removed). Only
    /// reported by a parser made with comments on.
    Comment(String),
    /// A valid `retry` field, where it appears.
    Retry(Duration),
}

/// The fields of one block, as the empty line that ends it dispatches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The event type buffer (empty when no `event` field set one: the type `message`).
    pub event: String,
    /// The data (`data` lines joined with LF); `None` when the block had no `data`
    /// line, which dispatches no event.
    pub data: Option<String>,
    /// The value of the block's own `id` field, if it had one (the last one counts).
    pub id: Option<Arc<str>>,
    /// The block's own `retry` field (the last valid one), if any.
    pub retry: Option<Duration>,
    /// The last event id string after this block: the latest `id` field of the stream
    /// (the same allocation as `id` when the block had one).
    pub last_event_id: Arc<str>,
}

/// More bytes of one event (a line, or the data so far) than the parser's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

/// The WHATWG event-stream parser.
#[derive(Debug, Clone)]
pub struct Parser {
    /// The bytes of a line that did not end in the chunks read so far.
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
    /// Past the first line (a BOM is skipped only at the start of the stream).
    started: bool,
    /// The event type buffer.
    event: Vec<u8>,
    /// The data buffer: every `data` line with an LF after it.
    data: Vec<u8>,
    has_data: bool,
    /// The last event ID buffer, set by `id` fields.
    id: String,
    /// This block had an `id` field.
    block_id: bool,
    block_retry: Option<Duration>,
    /// This block had a field line (an empty line after none dispatches nothing).
    block: bool,
    /// The last event id string, set from the buffer at each dispatch.
    last_id: Arc<str>,
    /// The length of the last event's data, for the next data buffer's capacity.
    last_len: usize,
    comments: bool,
    limit: usize,
    /// The field lines since the last empty line, kept only for [`Parser::finish`].
    pending: Option<String>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(usize::MAX, true)
    }
}

impl Parser {
    /// A parser at the start of a stream; `limit` bounds the bytes one event may hold (a
    /// line and the data so far), `comments` says whether comments are reported.
    pub fn new(limit: usize, comments: bool) -> Self {
        Parser {
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: Vec::new(),
            data: Vec::new(),
            has_data: false,
            id: String::new(),
            block_id: false,
            block_retry: None,
            block: false,
            last_id: Arc::from(""),
            last_len: 0,
            comments,
            limit,
            pending: None,
        }
    }

    /// Keeps the lines of the unfinished event, for [`finish`](Self::finish).
    pub fn keep_pending(mut self) -> Self {
        self.pending = Some(String::new());
        self
    }

    /// Starts reading a new response of the same stream: the last event id stays, the
    /// rest (a partial line or event of the previous response, the BOM check) starts over.
    pub fn restart(&mut self) {
        let last_id = self.last_id.clone();
        *self = Parser {
            id: last_id.to_string(),
            last_id,
            pending: self.pending.as_ref().map(|_| String::new()),
            ..Parser::new(self.limit, self.comments)
        };
    }

    /// Sets the last event id (the id a stream resumes from).
    pub fn set_last_event_id(&mut self, id: String) {
        self.last_id = Arc::from(id.as_str());
        self.id = id;
    }

    /// The last event id so far, shared.
    pub fn last_event_id_shared(&self) -> Arc<str> {
        self.last_id.clone()
    }

    /// The last event id so far: the latest `id` field's value (without NUL), once the
    /// empty line after it was read.
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// The bytes held for the event being read (its data and unfinished line).
    pub fn buffered(&self) -> usize {
        self.line.len() + self.data.len() + self.event.len()
    }

    /// Reads `bytes` (any part of the stream, continuing the previous ones) and appends
    /// what they complete to `out`. On [`TooLarge`] the stream cannot be read further.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Frame>) -> Result<(), TooLarge> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            if self.line.is_empty() {
                self.line_ended(&bytes[..end], out)?;
            } else {
                self.check(end)?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                let result = self.line_ended(&line, out);
                line.clear();
                self.line = line;
                result?;
            }
            let cr = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.check(bytes.len())?;
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn check(&self, more: usize) -> Result<(), TooLarge> {
        if self.buffered().saturating_add(more) > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The stream ended: `None` if it ended between events, else the bytes of the
    /// unfinished event (which a client discards). Only with [`keep_pending`]; otherwise
    /// `Some("")` stands for an unfinished event.
    ///
    /// [`keep_pending`]: Self::keep_pending
    pub fn finish(&self) -> Option<String> {
        let mut rest = self.pending.clone().unwrap_or_default();
        if !self.line.is_empty() {
            rest.push_str(&String::from_utf8_lossy(&self.line));
        }
        (!rest.is_empty() || (self.pending.is_none() && self.block)).then_some(rest)
    }

    fn line_ended(&mut self, mut line: &[u8], out: &mut Vec<Frame>) -> Result<(), TooLarge> {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix(b":") {
            if self.comments {
                let text = comment.strip_prefix(b" ").unwrap_or(comment);
                out.push(Frame::Comment(String::from_utf8_lossy(text).into_owned()));
            }
            return Ok(());
        }
        self.block = true;
        if let Some(pending) = &mut self.pending {
            pending.push_str(&String::from_utf8_lossy(line));
            pending.push('\n');
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                self.check(value.len() + 1)?;
                if self.data.capacity() == 0 {
                    // Most streams' events are alike: one allocation for the next one's data.
                    self.data.reserve(self.last_len.max(value.len()) + 1);
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            b"id" if memchr::memchr(0, value).is_none() => {
                self.id.clear();
                self.id.push_str(&String::from_utf8_lossy(value));
                self.block_id = true;
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits beyond u64 cannot be a reconnection time anyone waits for.
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    let retry = Duration::from_millis(ms);
                    self.block_retry = Some(retry);
                    out.push(Frame::Retry(retry));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<Frame>) {
        if let Some(pending) = &mut self.pending {
            pending.clear();
        }
        if !self.block {
            return;
        }
        self.block = false;
        let id = std::mem::take(&mut self.block_id).then(|| {
            let id: Arc<str> = Arc::from(self.id.as_str());
            self.last_id = id.clone();
            id
        });
        let data = self.has_data.then(|| {
            let mut data = std::mem::take(&mut self.data);
            data.pop(); // the LF after the last line
            self.last_len = data.len();
            match String::from_utf8(data) {
                Ok(data) => data,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }
        });
        self.has_data = false;
        let event = match std::str::from_utf8(&self.event) {
            Ok(event) => event.to_owned(),
            Err(_) => String::from_utf8_lossy(&self.event).into_owned(),
        };
        self.event.clear();
        out.push(Frame::Dispatch(Block {
            event,
            data,
            id,
            retry: self.block_retry.take(),
            last_event_id: self.last_id.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_end() {
        let out = parse(&[b"data: a\r", b"\ndata: b\r", b"\r"]);
        assert_eq!(out.len(), 1, "{out:?}");
        let Frame::Dispatch(block) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(block.data.as_deref(), Some("a\nb"));
    }

    #[test]
    fn the_block_keeps_its_own_id_and_retry() {
        let out = parse(&[b"id: 1\nretry: 5\ndata: x\n\ndata: y\n\nid\n\n"]);
        let blocks: Vec<_> = out
            .iter()
            .filter_map(|f| match f {
                Frame::Dispatch(b) => Some((
                    b.id.as_deref().map(str::to_owned),
                    b.retry,
                    b.last_event_id.to_string(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            blocks,
            [
                (Some("1".into()), Some(Duration::from_millis(5)), "1".into()),
                (None, None, "1".into()),
                (Some(String::new()), None, String::new()),
            ]
        );
    }

    #[test]
    fn an_endless_line_stops_at_the_limit() {
        let mut parser = Parser::new(100, false);
        let mut out = Vec::new();
        parser.feed(b"data: ", &mut out).unwrap();
        let mut fed = 6;
        let err = loop {
            match parser.feed(&[b'a'; 7], &mut out) {
                Ok(()) => fed += 7,
                Err(e) => break e,
            }
            assert!(parser.buffered() <= 100);
        };
        assert_eq!(err.limit, 100);
        assert!(fed <= 100);
    }
}
#[cfg(test)]
mod cuts {
    use super::*;

    /// Every split in three, empty chunks included (an empty chunk after a CR keeps the
    /// CR's LF pending).
    #[test]
    fn every_split_reads_the_same() {
        let bytes: &[u8] = b":\r\ndata\r\nid:   x\r\n\ndata: y\n\n";
        for a in 0..bytes.len() {
            for b in a..bytes.len() {
                let mut p = Parser::default();
                let mut out = Vec::new();
                for c in [&bytes[..a], &bytes[a..b], &bytes[b..]] {
                    p.feed(c, &mut out).unwrap();
                }
                let ids: Vec<_> = out
                    .iter()
                    .filter_map(|f| match f {
                        Frame::Dispatch(b) => Some(b.last_event_id.to_string()),
                        _ => None,
                    })
                    .collect();
                assert_eq!(ids, ["  x", "  x"], "{a} {b}");
            }
        }
    }
}
