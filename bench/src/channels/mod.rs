//! Channel benchmarks (issue 10): fan-out of one topic to many subscribers, a reconnect
//! storm replayed from history, and the memory the history takes.
//!
//! Three contestants, each a server child process on one actix worker / a current-thread
//! tokio runtime ([`servers`]):
//!
//! - **raw**: the ceiling. tokio `TcpListener`, hand-written HTTP/1.1 + chunked framing;
//!   each event is framed once (`id:` + `data:` + the chunk header) into a `Bytes` that a
//!   `tokio::sync::broadcast` hands to every connection, which writes whatever is ready in
//!   one `write_all` (up to 64 KiB). A `VecDeque` of those chunks is its history.
//! - **relay**: actix-web + an `#[sse]` push handler relaying a `tokio::sync::broadcast` of
//!   `(u64, String)`, formatting `send!(text, id = n)` per subscriber: what the chat example
//!   did before channels. It has no history, so it cannot take part in the storm.
//! - **hub**: actix-web + an `#[sse]` stream-style handler returning
//!   `hub.subscribe("t", &last).await`; events are published with `hub.publish`.
//!
//! Every server publishes from a task on its own thread ([`servers`]: `/run`, `/fill`), so
//! the publish-to-receive time starts in the same process and on the same core that
//! delivers, as a handler or timer in a real app would publish; the driver only starts it.
//! The client ([`client`]) and the measurements ([`driver`]) are in their own modules.

use std::{fmt, str::FromStr};

pub mod client;
pub mod driver;
pub mod hostile;
pub mod servers;

/// The one topic every contestant publishes to.
pub const TOPIC: &str = "t";

/// History every server keeps (events): enough for the storm's 1,000 missed events.
pub const HISTORY_EVENTS: usize = 2_000;

/// History bytes the hub may keep per topic: never the binding bound here.
pub const HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// Queue bound per subscriber (hub) and broadcast capacity (raw, relay): larger than any
/// run publishes, so no contestant drops or ends a subscriber that falls behind. The
/// benchmark checks delivery and speed; the lag policy has its own tests.
pub const QUEUE: usize = 1 << 17;

/// The most events one `/run` may publish (it must fit in [`QUEUE`]).
pub const MAX_RUN_EVENTS: u64 = QUEUE as u64 - 1;

/// A contestant of the channel benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contestant {
    /// tokio + hand-written HTTP/1.1, pre-framed `Bytes` broadcast: the ceiling.
    Raw,
    /// actix-web + `#[sse]` relaying a `tokio::sync::broadcast` (`send!(text, id = n)`).
    Relay,
    /// actix-web + `#[sse]` returning a `Channels` subscription.
    Hub,
}

impl Contestant {
    /// Every contestant, the ceiling first.
    pub const ALL: [Contestant; 3] = [Contestant::Raw, Contestant::Relay, Contestant::Hub];

    /// The name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Contestant::Raw => "raw",
            Contestant::Relay => "relay",
            Contestant::Hub => "hub",
        }
    }

    /// Whether it keeps a history it can replay from (the storm needs one).
    pub fn has_history(self) -> bool {
        self != Contestant::Relay
    }

    /// Runs this contestant's server until the process is killed.
    pub fn serve(self, port: u16) -> std::io::Result<()> {
        match self {
            Contestant::Raw => servers::raw(port),
            Contestant::Relay => servers::relay(port),
            Contestant::Hub => servers::hub(port),
        }
    }
}

impl fmt::Display for Contestant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Contestant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Contestant::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown contestant {s:?} (raw, relay, hub)"))
    }
}

/// The payload of event number `k`: `"<k> <t_ns> <sched_ns> "` padded with `.` to `size`
/// bytes, where `t_ns` is [`now_ns`](crate::proto::now_ns) when it is built (right before
/// it is published) and `sched_ns` when it was due by the publishing schedule (0: none).
pub fn payload(k: u64, sched_ns: u64, size: usize) -> String {
    let mut s = format!("{k} {} {sched_ns} ", crate::proto::now_ns());
    while s.len() < size {
        s.push('.');
    }
    s
}

/// Reads `(t_ns, sched_ns)` back from a payload.
pub fn payload_time(data: &[u8]) -> Option<(u64, u64)> {
    let mut it = data.split(|b| *b == b' ');
    it.next()?;
    let mut num = || std::str::from_utf8(it.next()?).ok()?.parse().ok();
    Some((num()?, num()?))
}

/// Splits an event id into its prefix and its trailing decimal number: `"k3x9-42"` gives
/// `("k3x9-", 42)` (a hub id), `"42"` gives `("", 42)` (raw and relay ids).
pub fn split_id(id: &[u8]) -> Option<(&[u8], u64)> {
    let digits = id.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let (prefix, tail) = id.split_at(id.len() - digits);
    let n = std::str::from_utf8(tail).ok()?.parse().ok()?;
    Some((prefix, n))
}

/// Parses a query string `a=1&b=2` into the value of `key`.
pub fn query_u64(query: &str, key: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_ids_round_trip() {
        let p = payload(7, 5, 64);
        assert_eq!(p.len(), 64);
        let (t, sched) = payload_time(p.as_bytes()).unwrap();
        assert!(t <= crate::proto::now_ns());
        assert_eq!(sched, 5);
        assert_eq!(split_id(b"abc-42"), Some((&b"abc-"[..], 42)));
        assert_eq!(split_id(b"42"), Some((&b""[..], 42)));
        assert_eq!(split_id(b"abc"), None);
        assert_eq!(query_u64("rate=10&secs=2", "secs"), Some(2));
        assert_eq!(query_u64("rate=10", "secs"), None);
    }
}
