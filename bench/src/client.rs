//! The load client: an exact, incremental SSE parser (WHATWG "event stream
//! interpretation"), an HTTP/1.1 chunked decoder, and a connection that ties them to a
//! tokio `TcpStream`. Loopback only.

use std::{
    mem,
    net::{Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// An error of the client: I/O, a malformed response, or a wrong count.
pub type Error = String;

/// Incremental WHATWG event-stream parser. Lines end at CRLF, LF or a lone CR (also
/// across reads); `data` lines are joined with LF; an empty line dispatches the event if
/// any `data` was seen. Every dispatched event's data is handed to `on_event`.
///
/// With [`check_ids`](Self::check_ids), every dispatched event's last event id (the
/// `id` field persists across events, as in a browser) must be exactly the decimal
/// number of events dispatched before it: `0`, `1`, `2`, …; [`bad_ids`](Self::bad_ids)
/// counts the events where it is not.
pub struct SseParser<F> {
    pending: Vec<u8>,
    skip_lf: bool,
    data: Vec<u8>,
    /// The last event id, if it is a decimal number.
    last_id: Option<u64>,
    /// Check ids (see above).
    pub check_ids: bool,
    /// Events whose last event id was not the expected one.
    pub bad_ids: u64,
    /// Events dispatched so far.
    pub events: u64,
    /// Comment lines (`:` ...) seen so far: heartbeats.
    pub comments: u64,
    /// When the first event was dispatched.
    pub first_event: Option<Instant>,
    on_event: F,
}

impl<F: FnMut(&[u8])> SseParser<F> {
    /// A parser calling `on_event(data)` for every dispatched event.
    pub fn new(on_event: F) -> Self {
        Self {
            pending: Vec::new(),
            skip_lf: false,
            data: Vec::new(),
            last_id: None,
            check_ids: false,
            bad_ids: 0,
            events: 0,
            comments: 0,
            first_event: None,
            on_event,
        }
    }

    /// Feeds bytes of the event stream (after de-chunking).
    pub fn feed(&mut self, input: &[u8]) {
        let mut i = 0;
        if self.skip_lf {
            self.skip_lf = false;
            if input.first() == Some(&b'\n') {
                i = 1;
            }
        }
        while i < input.len() {
            // Fast path, same result as the general one: a whole event `id: N\n` (optional)
            // + `data: V\n\n` (one line) while no line or event is pending is dispatched
            // in place.
            if self.pending.is_empty() && self.data.is_empty() {
                let mut at = i;
                let mut id = None;
                if input[at..].starts_with(b"id: ") {
                    // A decimal id (what the bench's servers send) is read in place; any
                    // other takes the general path.
                    let digits = input[at + 4..]
                        .iter()
                        .take(20)
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    let end = at + 4 + digits;
                    if input.get(end) == Some(&b'\n') {
                        id = Some(parse_id(&input[at + 4..end]));
                        at = end + 1;
                    }
                }
                if (id.is_some() || at == i) && input[at..].starts_with(b"data: ") {
                    let v = at + 6;
                    if let Some(off) = memchr::memchr2(b'\n', b'\r', &input[v..]) {
                        let end = v + off;
                        if input[end] == b'\n' && input.get(end + 1) == Some(&b'\n') {
                            if let Some(id) = id {
                                self.last_id = id;
                            }
                            self.dispatch_checks();
                            (self.on_event)(&input[v..end]);
                            i = end + 2;
                            continue;
                        }
                    }
                }
            }
            let Some(off) = memchr::memchr2(b'\n', b'\r', &input[i..]) else {
                self.pending.extend_from_slice(&input[i..]);
                return;
            };
            let end = i + off;
            if self.pending.is_empty() {
                self.line(&input[i..end]);
            } else {
                let mut line = mem::take(&mut self.pending);
                line.extend_from_slice(&input[i..end]);
                self.line(&line);
                line.clear();
                self.pending = line;
            }
            i = end + 1;
            if input[end] == b'\r' {
                if i < input.len() {
                    if input[i] == b'\n' {
                        i += 1;
                    }
                } else {
                    self.skip_lf = true;
                }
            }
        }
    }

    fn line(&mut self, line: &[u8]) {
        if line.is_empty() {
            if !self.data.is_empty() {
                self.data.pop(); // the LF after the last data line
                self.dispatch_checks();
                (self.on_event)(&self.data);
                self.data.clear();
            }
            return;
        }
        if line[0] == b':' {
            self.comments += 1;
            return;
        }
        let (name, value) = split_field(line);
        if name == b"data" {
            self.data.extend_from_slice(value);
            self.data.push(b'\n');
        } else if name == b"id" && !value.contains(&0) {
            self.last_id = parse_id(value);
        }
        // `event`, `retry` and unknown fields do not change what is counted.
    }

    /// Counts one dispatched event, and checks its id.
    #[inline]
    fn dispatch_checks(&mut self) {
        if self.check_ids && self.last_id != Some(self.events) {
            self.bad_ids += 1;
        }
        self.events += 1;
        if self.first_event.is_none() {
            self.first_event = Some(Instant::now());
        }
    }

    /// True if the stream ended in the middle of a line or an event.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || !self.data.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Trailer,
    Done,
}

/// How the response body is delimited.
#[derive(Debug)]
enum Body {
    Chunked { state: Chunk, line: Vec<u8> },
    UntilClose,
}

impl Body {
    /// Decodes `input`, passing body bytes to `out`. Returns true once the body ended.
    fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) -> Result<bool, Error> {
        let Body::Chunked { state, line } = self else {
            out(input);
            return Ok(false);
        };
        while !input.is_empty() {
            match *state {
                Chunk::Size | Chunk::Trailer => {
                    let Some(nl) = memchr::memchr(b'\n', input) else {
                        line.extend_from_slice(input);
                        if line.len() > 1024 {
                            return Err("chunk-size line too long".into());
                        }
                        return Ok(false);
                    };
                    line.extend_from_slice(&input[..nl]);
                    input = &input[nl + 1..];
                    let l = line.strip_suffix(b"\r").ok_or("chunk line without CRLF")?;
                    if *state == Chunk::Trailer {
                        if l.is_empty() {
                            *state = Chunk::Done;
                        }
                    } else {
                        let hex = l.split(|b| *b == b';').next().unwrap_or(&[]);
                        let hex = std::str::from_utf8(hex).map_err(|_| "bad chunk size")?;
                        let n = usize::from_str_radix(hex.trim(), 16)
                            .map_err(|_| format!("bad chunk size {hex:?}"))?;
                        *state = if n == 0 {
                            Chunk::Trailer
                        } else {
                            Chunk::Data(n)
                        };
                    }
                    line.clear();
                }
                Chunk::Data(n) => {
                    let take = n.min(input.len());
                    out(&input[..take]);
                    input = &input[take..];
                    *state = if take == n {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(n - take)
                    };
                }
                Chunk::DataEnd => {
                    // CRLF after the chunk data, possibly split across reads.
                    line.push(input[0]);
                    input = &input[1..];
                    if line.len() == 2 {
                        if line != b"\r\n" {
                            return Err("chunk data not followed by CRLF".into());
                        }
                        line.clear();
                        *state = Chunk::Size;
                    }
                }
                Chunk::Done => return Err("bytes after the last chunk".into()),
            }
        }
        Ok(*state == Chunk::Done)
    }

    fn done(&self) -> bool {
        matches!(
            self,
            Body::Chunked {
                state: Chunk::Done,
                ..
            }
        )
    }
}

/// One SSE connection: request sent, response head checked, body parsed as it is read.
pub struct SseConn<F> {
    stream: TcpStream,
    buf: Vec<u8>,
    body: Body,
    /// The parser, with its counts.
    pub parser: SseParser<F>,
    /// Body bytes received (after de-chunking).
    pub body_bytes: u64,
    ended: bool,
}

/// An id as the bench's servers write them: decimal, no sign, no leading zero (`None` for
/// anything else, which then never matches an expected id).
fn parse_id(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || (text.len() > 1 && text[0] == b'0') {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A field line's name and value (WHATWG: split at the first colon, one leading space
/// of the value dropped; a line without a colon is a name with an empty value).
pub fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b':', line) {
        Some(c) => {
            let v = &line[c + 1..];
            (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
        }
        None => (line, &[][..]),
    }
}

/// The response head of an SSE request: the stream, the body bytes that came with the
/// head, the read buffer (`read_buf` bytes, at least 1 KiB), and whether the body is
/// chunked.
pub type SseHead = (TcpStream, Vec<u8>, Vec<u8>, bool);

/// The first of the source addresses [`spread_source`] hands out: 127.0.0.2.
pub const FIRST_SOURCE: u8 = 2;

/// The next of `count` loopback source addresses, 127.0.0.2, .3, … .(1 + count), in turn
/// over the whole process: connections spread over them evenly, so that each address
/// holds at most its share of the ephemeral ports (in use or in TIME_WAIT after a
/// close). `count` is clamped to 1..=250.
pub fn spread_source(count: u8) -> Ipv4Addr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let k = NEXT.fetch_add(1, Ordering::Relaxed) % usize::from(count.clamp(1, 250));
    Ipv4Addr::new(127, 0, 0, FIRST_SOURCE + k as u8)
}

/// A new connection to `addr` (loopback only), from `source` (port chosen by the kernel)
/// if given, else from whatever address the kernel picks.
pub async fn connect(addr: SocketAddr, source: Option<Ipv4Addr>) -> Result<TcpStream, Error> {
    assert!(addr.ip().is_loopback(), "the bench talks to 127.0.0.1 only");
    let Some(src) = source else {
        return TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"));
    };
    assert!(src.is_loopback(), "the bench connects from 127.0.0.x only");
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((src, 0)))
        .map_err(|e| format!("bind {src}: {e}"))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr} from {src}: {e}"))
}

/// Sends `GET path` (with `Last-Event-ID` if given) on a new connection to `addr` (from
/// `source` if given, see [`connect`]) and reads the response head. Fails unless the
/// status is 200 and the content type `text/event-stream`, or if the response has a
/// `Content-Length`.
pub async fn request_sse(
    addr: SocketAddr,
    source: Option<Ipv4Addr>,
    path: &str,
    last_event_id: Option<&str>,
    read_buf: usize,
) -> Result<SseHead, Error> {
    let mut stream = connect(addr, source).await?;
    stream.set_nodelay(true).ok();
    let last = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{last}\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write request: {e}"))?;
    let mut head = Vec::with_capacity(1024);
    let mut tmp = vec![0u8; read_buf.max(1024)];
    let end = loop {
        let n = stream
            .read(&mut tmp)
            .await
            .map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err(format!(
                "{path}: connection closed before the response head"
            ));
        }
        head.extend_from_slice(&tmp[..n]);
        if let Some(p) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break p + 4;
        }
        if head.len() > 64 * 1024 {
            return Err("response head too long".into());
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("http/1.1 200") {
        return Err(format!("{path}: status line {status:?}"));
    }
    let mut chunked = false;
    let mut sse = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim() {
                "transfer-encoding" => chunked = v.trim() == "chunked",
                "content-type" => sse = v.trim().starts_with("text/event-stream"),
                "content-length" => return Err(format!("{path}: SSE with content-length")),
                _ => {}
            }
        }
    }
    if !sse {
        return Err(format!("{path}: content type is not text/event-stream"));
    }
    Ok((stream, head.split_off(end), tmp, chunked))
}

/// Sends `GET path` on a new connection to `addr` (from `source` if given, see
/// [`connect`]) and reads the response head up to the first byte of the body. Fails
/// unless the status is 200 and the content type `text/event-stream`.
///
/// With `check_ids`, the parser checks every event's id ([`SseParser::check_ids`]).
pub async fn open<F: FnMut(&[u8])>(
    addr: SocketAddr,
    source: Option<Ipv4Addr>,
    path: &str,
    read_buf: usize,
    check_ids: bool,
    on_event: F,
) -> Result<SseConn<F>, Error> {
    let (stream, rest, tmp, chunked) = request_sse(addr, source, path, None, read_buf).await?;
    let body = if chunked {
        Body::Chunked {
            state: Chunk::Size,
            line: Vec::new(),
        }
    } else {
        Body::UntilClose
    };
    let mut parser = SseParser::new(on_event);
    parser.check_ids = check_ids;
    let mut conn = SseConn {
        stream,
        buf: tmp,
        body,
        parser,
        body_bytes: 0,
        ended: false,
    };
    conn.feed(&rest)?;
    Ok(conn)
}

impl<F: FnMut(&[u8])> SseConn<F> {
    fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        let parser = &mut self.parser;
        let bytes = &mut self.body_bytes;
        let done = self.body.feed(input, &mut |b| {
            *bytes += b.len() as u64;
            parser.feed(b);
        })?;
        if done {
            self.ended = true;
        }
        Ok(())
    }

    /// Reads once (at most the read buffer's size) and parses. Returns false once the
    /// body has ended (last chunk, or EOF on an unchunked body).
    pub async fn read_some(&mut self) -> Result<bool, Error> {
        if self.ended {
            return Ok(false);
        }
        let n = self
            .stream
            .read(&mut self.buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            if self.body.done() || matches!(self.body, Body::UntilClose) {
                self.ended = true;
                return Ok(false);
            }
            return Err("connection closed before the last chunk".into());
        }
        let buf = mem::take(&mut self.buf);
        let r = self.feed(&buf[..n]);
        self.buf = buf;
        r?;
        Ok(!self.ended)
    }

    /// Reads at most `max` bytes once (a deliberately slow reader).
    pub async fn read_at_most(&mut self, max: usize) -> Result<bool, Error> {
        let keep = mem::take(&mut self.buf);
        self.buf = vec![0; max.max(1)];
        let r = self.read_some().await;
        self.buf = keep;
        r
    }

    /// Reads until the body ends, failing after `timeout`.
    pub async fn read_to_end(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.read_some()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => break,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(format!(
                        "stream not finished after {timeout:?} ({} events)",
                        self.parser.events
                    ))
                }
            }
        }
        if self.parser.has_partial() {
            return Err("stream ended inside a line or an event".into());
        }
        Ok(())
    }
}

/// Sends `GET path` and returns the body of a short, non-streaming response
/// (`Content-Length` or until close).
pub async fn get_text(addr: SocketAddr, path: &str) -> Result<String, Error> {
    let mut s = connect(addr, None).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .map_err(|_| format!("{path}: no response in 10 s"))?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{path}: malformed response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "{path}: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    Ok(body.to_owned())
}

/// The client's own limit: events/s that the chunked decoder and the SSE parser (with the
/// same per-event checks as the throughput run) sustain on in-memory input of one-line
/// `size`-byte events (with an `id: N` line each if `ids`; the ids are then checked) in
/// 64 KiB chunks, for about `dur`. No socket involved.
pub fn parse_limit(size: usize, ids: bool, dur: Duration) -> f64 {
    let frame = crate::proto::frame(&crate::proto::payload(size));
    // Ids of 7 digits, about the length of a real run's.
    let id_line = if ids { "id: 1000000\n".len() } else { 0 };
    let per = (64 * 1024 / (frame.len() + id_line)).max(1);
    let expected = vec![b'x'; size];
    let mut bad = 0u64;
    let mut decoder = Body::Chunked {
        state: Chunk::Size,
        line: Vec::new(),
    };
    let mut parser = SseParser::new(|d: &[u8]| bad += u64::from(d != expected.as_slice()));
    parser.check_ids = ids;
    // The ids of the first round of chunks are the ones the parser expects; later rounds
    // repeat them, so the parser is told to expect them again (not timed apart).
    let mut wire = Vec::new();
    for round in 0..16u64 {
        let mut body = String::new();
        for k in 0..per as u64 {
            if ids {
                body.push_str(&format!("id: {}\n", 1_000_000 + round * per as u64 + k));
            }
            body.push_str(&frame);
        }
        wire.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        wire.extend_from_slice(body.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    let t0 = Instant::now();
    let mut rounds = 0u64;
    while t0.elapsed() < dur {
        parser.events = 1_000_000;
        let _ = decoder.feed(&wire, &mut |b| parser.feed(b));
        rounds += 16;
    }
    let events = rounds * per as u64;
    let bad_ids = parser.bad_ids;
    let rate = events as f64 / t0.elapsed().as_secs_f64();
    drop(parser);
    assert_eq!((bad, bad_ids), (0, 0), "parse_limit miscounted");
    rate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
        let mut out = Vec::new();
        let mut p = SseParser::new(|d: &[u8]| out.push(d.to_vec()));
        for c in chunks {
            p.feed(c);
        }
        let comments = p.comments;
        drop(p);
        (out, comments)
    }

    #[test]
    fn parser_is_exact() {
        let (ev, c) = parse_all(&[
            b"data: a\n\n:\n\ndata:b\r\ndata:  c\r",
            b"\n\r\nid: 1\n\ndata: d\n\ndata: e\ndata: f\n\ndata: g\n",
            b"\ndata: h\r\n\r\n",
        ]);
        let want: [&[u8]; 6] = [b"a", b"b\n c", b"d", b"e\nf", b"g", b"h"];
        assert_eq!(ev, want.map(<[u8]>::to_vec));
        assert_eq!(c, 1);
        // Split at every byte: same result.
        let whole: &[u8] = b"data: x\r\rdata\n\nevent: e\ndata: y\n\n: hb\n";
        let parts: Vec<&[u8]> = whole.chunks(1).collect();
        let (ev, c) = parse_all(&parts);
        assert_eq!(ev, vec![b"x".to_vec(), b"".to_vec(), b"y".to_vec()]);
        assert_eq!(c, 1);
    }

    #[test]
    fn ids_are_checked_exactly() {
        let check = |chunks: &[&[u8]]| {
            let mut p = SseParser::new(|_: &[u8]| {});
            p.check_ids = true;
            for c in chunks {
                p.feed(c);
            }
            (p.events, p.bad_ids)
        };
        let good: &[u8] = b"id: 0\ndata: a\n\nid: 1\ndata: b\n\nid: 2\r\ndata: c\n\n";
        assert_eq!(check(&[good]), (3, 0));
        assert_eq!(check(&good.chunks(1).collect::<Vec<_>>()), (3, 0));
        // A missing id keeps the last one (1 again), a wrong, repeated or padded one is bad.
        assert_eq!(check(&[b"id: 0\ndata: a\n\ndata: b\n\n"]), (2, 1));
        assert_eq!(check(&[b"id: 0\ndata: a\n\nid: 2\ndata: b\n\n"]), (2, 1));
        assert_eq!(check(&[b"id: 00\ndata: a\n\n"]), (1, 1));
        assert_eq!(check(&[b"id: 0\0\ndata: a\n\n"]), (1, 1));
        assert_eq!(check(&[b"data: a\n\n"]), (1, 1));
        // The event line between id and data takes the general path: same result.
        assert_eq!(check(&[b"id: 0\nevent: e\ndata: a\n\n"]), (1, 0));
    }

    #[test]
    fn chunked_decoder() {
        let wire: &[u8] = b"5\r\nhello\r\n3;x=y\r\n ab\r\n0\r\n\r\n";
        for split in 1..wire.len() {
            let mut body = Body::Chunked {
                state: Chunk::Size,
                line: Vec::new(),
            };
            let mut got = Vec::new();
            let mut done = false;
            for part in wire.chunks(split) {
                done = body.feed(part, &mut |b| got.extend_from_slice(b)).unwrap();
            }
            assert!(done);
            assert_eq!(got, b"hello ab");
        }
        let mut body = Body::Chunked {
            state: Chunk::Size,
            line: Vec::new(),
        };
        assert!(body.feed(b"2\r\nabX\n", &mut |_| {}).is_err());
    }
}
