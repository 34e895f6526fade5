//! What servers and client agree on: query parameters, payloads, the fan-out message and
//! the clock.

use std::time::Duration;

/// Events per second that `/slow` produces.
pub const SLOW_RATE: u64 = 10_000;

/// Events `/slow` produces per 1 ms tick (10 per ms = [`SLOW_RATE`]).
pub const SLOW_PER_TICK: u64 = SLOW_RATE / 1000;

/// Size in bytes of a fan-out message's payload (`"<seq> <t_ns>"` padded with `.`).
pub const FANOUT_PAYLOAD: usize = 64;

/// Parameters of a request, from its query string. Absent or malformed values take the
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `n`: number of events for `/stream` (default 1000).
    pub n: u64,
    /// `size`: payload bytes per event (default 64).
    pub size: usize,
    /// `hb_ms`: heartbeat period in milliseconds (default 1000).
    pub hb_ms: u64,
    /// `secs`: how long `/slow` produces (default 10).
    pub secs: u64,
    /// `buf`: back-pressure / coalescing limit for **ours** (`Sse::buffer_size`);
    /// absent: the runtime's default. For experiments only; the table uses the default.
    pub buf: Option<usize>,
    /// `ids=1`: every `/stream` event carries `id: <i>`, `i` counting from 0 (default off).
    pub ids: bool,
    /// `fn=1`: **ours**' `/idle` returns `Sse::from_fn` as is, rather than the `#[sse]`
    /// handler users write (which only has the 1 s heartbeat).
    pub from_fn: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            n: 1000,
            size: 64,
            hb_ms: 1000,
            secs: 10,
            buf: None,
            ids: false,
            from_fn: false,
        }
    }
}

impl Params {
    /// Parses `n=..&size=..&hb_ms=..&secs=..` (any order, unknown keys ignored).
    pub fn parse(query: &str) -> Self {
        let mut p = Self::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "n" => p.n = v.parse().unwrap_or(p.n),
                "size" => p.size = v.parse().unwrap_or(p.size),
                "hb_ms" => p.hb_ms = v.parse().unwrap_or(p.hb_ms).max(1),
                "secs" => p.secs = v.parse().unwrap_or(p.secs),
                "buf" => p.buf = v.parse().ok(),
                "ids" => p.ids = v == "1",
                "fn" => p.from_fn = v == "1",
                _ => {}
            }
        }
        p
    }

    /// The heartbeat period.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.hb_ms)
    }

    /// How long `/slow` produces.
    pub fn slow_duration(&self) -> Duration {
        Duration::from_secs(self.secs)
    }
}

/// The payload of every `/stream` and `/slow` event: `size` bytes of `x`.
pub fn payload(size: usize) -> String {
    "x".repeat(size)
}

/// One event on the wire, as every contestant frames a single-line `data` event.
pub fn frame(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// Appends event `i` of `/stream?ids=1` as every contestant frames it:
/// `id: <i>\ndata: <data>\n\n`.
pub fn frame_with_id(buf: &mut bytes::BytesMut, i: u64, data: &str) {
    buf.extend_from_slice(b"id: ");
    buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    buf.extend_from_slice(data.as_bytes());
    buf.extend_from_slice(b"\n\n");
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process on the machine, so a
/// timestamp taken by a server can be compared with the client's.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The fan-out message number `seq`, stamped with the current time: `"<seq> <t_ns>"`
/// padded to [`FANOUT_PAYLOAD`] bytes.
pub fn fanout_message(seq: u64) -> String {
    let mut s = format!("{seq} {} ", now_ns());
    while s.len() < FANOUT_PAYLOAD {
        s.push('.');
    }
    s
}

/// Reads back `(seq, t_ns)` from a fan-out message.
pub fn parse_fanout(data: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(data).ok()?;
    let mut it = s.split(' ');
    let seq = it.next()?.parse().ok()?;
    let t = it.next()?.parse().ok()?;
    Some((seq, t))
}

/// Reads an HTTP/1.1 request head from `sock` (what the raw servers do by hand): the bytes
/// up to and including the empty line, or `None` if the client closed first or sent more
/// than 16 KiB without one.
pub async fn read_head(sock: &mut tokio::net::TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
            return Ok(Some(head));
        }
        if head.len() > 16 * 1024 {
            return Ok(None);
        }
    }
}

/// The `--only a,b` list of a benchmark's command line, with `raw` added in front when it
/// is missing: ratios need the ceiling measured in the same run.
pub fn contestants_with_raw<C>(list: &str, raw: C) -> Result<Vec<C>, String>
where
    C: std::str::FromStr<Err = String> + PartialEq,
{
    let mut v = list
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<C>, String>>()?;
    if !v.contains(&raw) {
        v.insert(0, raw);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_fanout_round_trip() {
        let p = Params::parse("n=5&size=4096&hb_ms=0&zz=1&secs");
        assert_eq!(
            (p.n, p.size, p.hb_ms, p.secs, p.ids),
            (5, 4096, 1, 10, false)
        );
        assert!(Params::parse("ids=1").ids);
        let mut buf = bytes::BytesMut::new();
        frame_with_id(&mut buf, 42, "x");
        assert_eq!(&buf[..], b"id: 42\ndata: x\n\n");
        let m = fanout_message(7);
        assert_eq!(m.len(), FANOUT_PAYLOAD);
        let (seq, t) = parse_fanout(m.as_bytes()).unwrap();
        assert_eq!(seq, 7);
        assert!(t <= now_ns());
    }

    #[test]
    fn only_lists_get_raw_in_front() {
        use crate::servers::Contestant::{self, Lab, Ours, Raw};
        assert_eq!(
            contestants_with_raw("ours,lab", Raw),
            Ok(vec![Raw, Ours, Lab])
        );
        assert_eq!(contestants_with_raw("ours,raw", Raw), Ok(vec![Ours, Raw]));
        assert!(contestants_with_raw::<Contestant>("ours,nope", Raw).is_err());
    }
}
