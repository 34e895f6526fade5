//! The retained events of one topic, bounded by count, bytes and (optionally) age.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use bytes::Bytes;

/// How much history every topic keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) events: usize,
    pub(crate) bytes: usize,
    pub(crate) age: Option<Duration>,
}

struct Entry {
    seq: u64,
    frame: Bytes,
}

/// One topic's history: frames in sequence order, plus the highest sequence ever trimmed
/// away, which tells a resume that lost events apart from one that lost nothing.
pub(crate) struct History {
    entries: VecDeque<Entry>,
    /// When each entry was added, only with an age bound (reading the clock is not free),
    /// and apart from `entries` so that without one an entry costs no room for it.
    added: VecDeque<Instant>,
    bytes: usize,
    trimmed_upto: u64,
}

impl History {
    /// An empty history. `trimmed_upto` is where it starts knowing about events: a
    /// position older than it may have missed something.
    pub(crate) fn new(trimmed_upto: u64) -> Self {
        Self {
            entries: VecDeque::new(),
            added: VecDeque::new(),
            bytes: 0,
            trimmed_upto,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The highest sequence trimmed away (0 if none).
    pub(crate) fn trimmed_upto(&self) -> u64 {
        self.trimmed_upto
    }

    /// Appends a frame (sequences only grow) and trims to the bounds.
    pub(crate) fn push(&mut self, seq: u64, frame: Bytes, bounds: &Bounds) {
        if bounds.age.is_some() {
            self.added.push_back(Instant::now());
        }
        self.bytes += frame.len();
        self.entries.push_back(Entry { seq, frame });
        self.trim(bounds);
    }

    /// Drops the oldest entries until the history fits its bounds.
    pub(crate) fn trim(&mut self, bounds: &Bounds) {
        let expired = bounds.age.and_then(|age| Instant::now().checked_sub(age));
        while let Some(oldest) = self.entries.front() {
            // `added` runs alongside `entries` when there is an age bound (the bounds of
            // a hub never change).
            let too_old =
                matches!((expired, self.added.front()), (Some(limit), Some(at)) if *at <= limit);
            if self.entries.len() <= bounds.events && self.bytes <= bounds.bytes && !too_old {
                break;
            }
            self.trimmed_upto = oldest.seq;
            self.bytes -= oldest.frame.len();
            self.entries.pop_front();
            self.added.pop_front();
        }
        // A burst can leave a large ring behind; give the memory back once it is mostly empty.
        if self.entries.capacity() > 64 && self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
            self.added.shrink_to(self.entries.len() * 2);
        }
    }

    /// Every retained event after `after`, oldest first.
    pub(crate) fn after(&self, after: u64) -> impl Iterator<Item = (u64, &Bytes)> + '_ {
        let start = self.entries.partition_point(|e| e.seq <= after);
        self.entries.range(start..).map(|e| (e.seq, &e.frame))
    }

    /// The last `n` retained events, oldest first.
    pub(crate) fn last(&self, n: usize) -> impl Iterator<Item = (u64, &Bytes)> + '_ {
        let start = self.entries.len().saturating_sub(n);
        self.entries.range(start..).map(|e| (e.seq, &e.frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(events: usize, bytes: usize) -> Bounds {
        Bounds {
            events,
            bytes,
            age: None,
        }
    }

    #[test]
    fn trims_by_count_and_bytes_and_remembers_what_it_dropped() {
        let mut h = History::new(0);
        let b = bounds(3, 100);
        for seq in 1..=5 {
            h.push(seq, Bytes::from_static(b"0123456789"), &b);
        }
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(h.trimmed_upto(), 2);
        assert_eq!(h.after(3).map(|e| e.0).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(h.last(2).map(|e| e.0).collect::<Vec<_>>(), [4, 5]);

        let b = bounds(10, 25);
        h.push(9, Bytes::from_static(b"0123456789"), &b);
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [5, 9]);
        assert_eq!(h.trimmed_upto(), 4);

        // A frame larger than the byte bound is not kept at all.
        h.push(10, Bytes::from(vec![b'x'; 30]), &b);
        assert!(h.is_empty());
        assert_eq!(h.trimmed_upto(), 10);
    }

    #[test]
    fn trims_by_age() {
        let b = Bounds {
            events: 10,
            bytes: 1000,
            age: Some(Duration::from_millis(20)),
        };
        let mut h = History::new(0);
        h.push(1, Bytes::from_static(b"a"), &b);
        std::thread::sleep(Duration::from_millis(30));
        h.push(2, Bytes::from_static(b"b"), &b);
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [2]);
        std::thread::sleep(Duration::from_millis(30));
        h.trim(&b);
        assert!(h.is_empty());
        assert_eq!(h.trimmed_upto(), 2);
    }
}
