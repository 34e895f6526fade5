//! The channel client: one SSE connection that hands every event's **id and data** to the
//! caller (the library's [`crate::client`] counts data only), with an exact HTTP/1.1
//! chunked decoder. Lines end at LF (a CR before it is dropped): every contestant writes
//! LF. Loopback only.

use std::net::SocketAddr;

use tokio::{io::AsyncReadExt, net::TcpStream};

use crate::client::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd(u8),
    Trailer,
    Done,
}

/// The event-stream parser: `id` (kept across events, as WHATWG says), `data` lines
/// joined with LF, dispatch on an empty line when some data was seen.
#[derive(Debug, Default)]
struct Events {
    line: Vec<u8>,
    id: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl Events {
    fn feed(&mut self, mut input: &[u8], on_event: &mut impl FnMut(&[u8], &[u8])) {
        while !input.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', input) else {
                self.line.extend_from_slice(input);
                return;
            };
            if self.line.is_empty() {
                self.on_line(&input[..nl], on_event);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&input[..nl]);
                self.on_line(&line, on_event);
                line.clear();
                self.line = line;
            }
            input = &input[nl + 1..];
        }
    }

    fn on_line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8], &[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(&self.id, &self.data);
                self.data.clear();
                self.has_data = false;
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = crate::client::split_field(line);
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
            }
            _ => {}
        }
    }
}

/// One event-stream connection.
pub struct EventConn {
    stream: TcpStream,
    buf: Vec<u8>,
    state: Chunk,
    chunk_line: Vec<u8>,
    events: Events,
    pending: Vec<u8>,
}

/// Sends `GET path` (with `Last-Event-ID` if given) on a new connection to `addr`, and
/// reads the response head. Fails unless the status is 200, the content type
/// `text/event-stream` and the body chunked. `read_buf` is the size of every read.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
    read_buf: usize,
) -> Result<EventConn, Error> {
    let (stream, pending, buf, chunked) =
        crate::client::request_sse(addr, None, path, last_event_id, read_buf).await?;
    if !chunked {
        return Err(format!("{path}: not a chunked response"));
    }
    Ok(EventConn {
        stream,
        buf,
        state: Chunk::Size,
        chunk_line: Vec::new(),
        events: Events::default(),
        // Body bytes read with the head: parsed by the first `read_events`.
        pending,
    })
}

impl EventConn {
    fn feed(
        &mut self,
        mut input: &[u8],
        on_event: &mut impl FnMut(&[u8], &[u8]),
    ) -> Result<(), Error> {
        while !input.is_empty() {
            match self.state {
                Chunk::Size | Chunk::Trailer => {
                    let Some(nl) = memchr::memchr(b'\n', input) else {
                        self.chunk_line.extend_from_slice(input);
                        if self.chunk_line.len() > 1024 {
                            return Err("chunk-size line too long".into());
                        }
                        return Ok(());
                    };
                    self.chunk_line.extend_from_slice(&input[..nl]);
                    input = &input[nl + 1..];
                    let l = self
                        .chunk_line
                        .strip_suffix(b"\r")
                        .ok_or("chunk line without CRLF")?;
                    if self.state == Chunk::Trailer {
                        if l.is_empty() {
                            self.state = Chunk::Done;
                        }
                    } else {
                        let hex = l.split(|b| *b == b';').next().unwrap_or(&[]);
                        let hex = std::str::from_utf8(hex).map_err(|_| "bad chunk size")?;
                        let n = usize::from_str_radix(hex.trim(), 16)
                            .map_err(|_| format!("bad chunk size {hex:?}"))?;
                        self.state = if n == 0 {
                            Chunk::Trailer
                        } else {
                            Chunk::Data(n)
                        };
                    }
                    self.chunk_line.clear();
                }
                Chunk::Data(n) => {
                    let take = n.min(input.len());
                    self.events.feed(&input[..take], on_event);
                    input = &input[take..];
                    self.state = if take == n {
                        Chunk::DataEnd(0)
                    } else {
                        Chunk::Data(n - take)
                    };
                }
                Chunk::DataEnd(seen) => {
                    let want = [b'\r', b'\n'][seen as usize];
                    if input[0] != want {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    input = &input[1..];
                    self.state = if seen == 0 {
                        Chunk::DataEnd(1)
                    } else {
                        Chunk::Size
                    };
                }
                Chunk::Done => return Err("bytes after the last chunk".into()),
            }
        }
        Ok(())
    }

    /// Reads once and hands every complete event to `on_event(id, data)`. Returns false
    /// once the body has ended (last chunk received) or the server closed the connection.
    pub async fn read_events(
        &mut self,
        on_event: &mut impl FnMut(&[u8], &[u8]),
    ) -> Result<bool, Error> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.feed(&pending, on_event)?;
            return Ok(self.state != Chunk::Done);
        }
        if self.state == Chunk::Done {
            return Ok(false);
        }
        let n = self
            .stream
            .read(&mut self.buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(false);
        }
        let buf = std::mem::take(&mut self.buf);
        let r = self.feed(&buf[..n], on_event);
        self.buf = buf;
        r?;
        Ok(self.state != Chunk::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_ids_and_join_data() {
        let mut got = Vec::new();
        let mut ev = Events::default();
        let wire: &[u8] =
            b"id: a-1\ndata: x\n\n: hb\n\ndata: y\r\ndata: z\r\n\r\nid: 2\nevent: e\ndata:w\n\n";
        for split in 1..wire.len() {
            got.clear();
            let mut ev2 = Events::default();
            for part in wire.chunks(split) {
                ev2.feed(part, &mut |id: &[u8], d: &[u8]| {
                    got.push((id.to_vec(), d.to_vec()))
                });
            }
            assert_eq!(
                got,
                [
                    (b"a-1".to_vec(), b"x".to_vec()),
                    (b"a-1".to_vec(), b"y\nz".to_vec()),
                    (b"2".to_vec(), b"w".to_vec()),
                ]
            );
        }
        ev.feed(b"data: only\n", &mut |_, _| panic!("not dispatched yet"));
    }
}
