//! [`EventId`]: the position of an event in a hub, written on the wire as `{epoch}-{seq}`.

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hash, Hasher},
    str::FromStr,
    time::SystemTime,
};

/// The longest `Last-Event-ID` a hub looks at; anything longer is unknown at once.
pub(crate) const MAX_ID_LEN: usize = 1024;

/// The epoch has 48 random bits: 10 base-36 digits on the wire, and still a
/// one-in-280-trillion chance that two hubs pick the same one.
const EPOCH_BITS: u32 = 48;

/// The id a channel hub gives every event it publishes.
///
/// On the wire it reads `{epoch}-{seq}` (for example `k3x9q2ab1-42`):
///
/// - the *epoch* is a random value chosen when the hub is created. An id from another
///   hub, or from before a restart, has another epoch, so the hub recognises it and
///   answers with a reset event instead of resuming from a position it never had;
/// - the *sequence* is one counter for the whole hub, strictly increasing across every
///   topic. Ids are therefore strictly increasing within a topic, one `Last-Event-ID` is a
///   valid position in several topics at once, and a topic that was dropped and created
///   again never reuses a position.
///
/// Parse one from a client's `Last-Event-ID` with [`str::parse`]; anything that is not
/// exactly what [`Display`](fmt::Display) writes is refused.
///
/// ```
/// use actix_sse::EventId;
///
/// let id: EventId = "k3x9q2ab1-42".parse().unwrap();
/// assert_eq!(id.sequence(), 42);
/// assert_eq!(id.to_string(), "k3x9q2ab1-42");
/// assert!("k3x9q2ab1-042".parse::<EventId>().is_err());
/// assert!("garbage".parse::<EventId>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    epoch: u64,
    seq: u64,
}

impl EventId {
    pub(crate) fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The position in the hub's sequence: strictly increasing across all of its topics.
    pub fn sequence(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 13];
        let mut i = digits.len();
        let mut n = self.epoch;
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
            n /= 36;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits and letters were written.
        let epoch = std::str::from_utf8(&digits[i..]).map_err(|_| fmt::Error)?;
        write!(f, "{epoch}-{}", self.seq)
    }
}

/// A string that is not an [`EventId`] written by a channel hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEventId(());

impl fmt::Display for InvalidEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a channel event id (expected `{epoch}-{sequence}`)")
    }
}

impl std::error::Error for InvalidEventId {}

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidEventId(());
        if s.len() > MAX_ID_LEN {
            return Err(bad());
        }
        let (epoch, seq) = s.split_once('-').ok_or_else(bad)?;
        let epoch_ok = !epoch.is_empty()
            && epoch.len() <= 13
            && epoch
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        let seq_ok = !seq.is_empty() && seq.len() <= 20 && seq.bytes().all(|b| b.is_ascii_digit());
        if !epoch_ok || !seq_ok {
            return Err(bad());
        }
        let id = EventId {
            epoch: u64::from_str_radix(epoch, 36).map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        };
        // One spelling per id: no leading zeros, nothing `Display` would not write.
        if id.to_string() != s {
            return Err(bad());
        }
        Ok(id)
    }
}

/// A fresh random epoch: `RandomState`'s per-process keys, mixed with the time and a
/// per-call counter so two hubs of one process differ too.
pub(crate) fn new_epoch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        .hash(&mut hasher);
    CALLS.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    // Offset so every epoch has the same width on the wire (10 base-36 digits).
    36u64.pow(9) + (hasher.finish() >> (64 - EPOCH_BITS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strict_parse() {
        let mut epochs = std::collections::HashSet::new();
        for _ in 0..100 {
            let id = EventId::new(new_epoch(), 1234);
            assert!(epochs.insert(id.epoch()));
            let s = id.to_string();
            assert_eq!(s.len(), 15, "{s}");
            assert_eq!(s.parse::<EventId>(), Ok(id));
        }
        let max = EventId::new(u64::MAX, u64::MAX).to_string();
        assert_eq!(max.parse::<EventId>().unwrap().sequence(), u64::MAX);
        for bad in [
            "",
            "-",
            "abc",
            "abc-",
            "-1",
            "ABC-1",
            "abc-01",
            "00abc-1",
            "abc-+1",
            "abc-1-2",
            "abc- 1",
            "abc-99999999999999999999999",
            "zzzzzzzzzzzzzz-1",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?}");
        }
        assert!("a".repeat(64 * 1024).parse::<EventId>().is_err());
    }
}
