//! The memory budget of the in-process hub: what every topic costs, summed, and when to
//! evict history to stay within the bound.
//!
//! A topic's cost is everything it holds: its entry in the hub's map, its name, its
//! subscriber slots and its history's chunks and slots (see `History::footprint`), with
//! the allocator's own overhead. Each topic records the cost it last added to the sum and
//! corrects it under its lock after every change, so the sum never drifts.
//!
//! When the sum passes fifteen sixteenths of the budget, the histories of the least
//! recently published topics are evicted until it is back under three quarters: one pass
//! frees many topics, so its cost (a sort of the topics) is shared by many publishes, and
//! the memory the pass itself needs, with what the allocator keeps of freed topics, still
//! fits in the budget. Topics kept by subscribers still count but cannot be evicted (their
//! history can); so that a pass is not repeated at every publish while they hold memory,
//! the next pass waits until the sum has grown by a sixteenth of the budget (at least
//! 64 KiB) past what the last one could not evict.

use std::{
    mem::size_of,
    sync::{
        atomic::{AtomicUsize, Ordering::Relaxed},
        Arc, Mutex, MutexGuard, TryLockError,
    },
};

/// What the allocator adds to each allocation (header and rounding), on average.
const ALLOC: usize = 16;
/// The counts in front of an `Arc`'s value.
const ARC: usize = 2 * size_of::<usize>();
/// The least growth between two passes once subscribers hold more than the budget allows,
/// however small the budget: a pass sorts every topic, so it must not run at every publish.
const MIN_SLACK: usize = 64 * 1024;

/// The cost of a topic besides its name, its subscriber slots and its history: the topic
/// itself in its `Arc`, the name's `Arc<str>` header, and its map entry (a key and a value,
/// a control byte, and the map's spare room, up to half empty after growing).
pub(crate) fn topic_cost<T>(name: &str) -> usize {
    let entry = size_of::<(Arc<str>, Arc<T>)>() + 1;
    (ARC + size_of::<T>() + ALLOC) + (ARC + name.len() + ALLOC) + 2 * entry
}

/// The cost of `n` slots of a `Vec` or `VecDeque` of `T` (0 when nothing is allocated).
pub(crate) fn slots<T>(n: usize) -> usize {
    match n * size_of::<T>() {
        0 => 0,
        bytes => bytes + ALLOC,
    }
}

/// The sum of every topic's cost, and its bound.
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// The sum above which a publish starts an eviction pass (`start` unless subscribers
    /// hold more).
    evict_above: AtomicUsize,
    /// Held by the one pass running; others do not wait for it.
    pass: Mutex<()>,
}

impl Budget {
    /// A budget of `limit` bytes (`usize::MAX`: no bound).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
            evict_above: AtomicUsize::new(start(limit)),
            pass: Mutex::new(()),
        }
    }

    /// Replaces a topic's recorded cost `*recorded` by `now`.
    pub(crate) fn record(&self, recorded: &mut usize, now: usize) {
        if now > *recorded {
            self.used.fetch_add(now - *recorded, Relaxed);
        } else if now < *recorded {
            let freed = *recorded - now;
            let used = self.used.fetch_sub(freed, Relaxed) - freed;
            // Back under the budget (subscribers left, topics went): the next pass is due
            // as soon as the budget is passed again.
            let start = start(self.limit);
            if used <= start && self.evict_above.load(Relaxed) != start {
                self.evict_above.store(start, Relaxed);
            }
        }
        *recorded = now;
    }

    /// What every topic costs now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// Whether an eviction pass is due.
    pub(crate) fn over(&self) -> bool {
        self.used() > self.evict_above.load(Relaxed)
    }

    /// Where a pass stops evicting.
    pub(crate) fn target(&self) -> usize {
        self.limit / 4 * 3
    }

    /// The right to run a pass, unless one is running.
    pub(crate) fn start_pass(&self) -> Option<MutexGuard<'_, ()>> {
        match self.pass.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// After a pass: the next one waits until the sum grows by a sixteenth of the budget
    /// past what could not be evicted.
    pub(crate) fn end_pass(&self) {
        let start = start(self.limit);
        let used = self.used();
        let next = if used <= start {
            start
        } else {
            used.saturating_add((self.limit / 16).max(MIN_SLACK))
        };
        self.evict_above.store(next, Relaxed);
        // Freed meanwhile below the start (by a topic that did not reset the threshold,
        // as it was still at the start then): due again from the start.
        if self.used() <= start {
            self.evict_above.store(start, Relaxed);
        }
    }
}

/// The sum at which eviction starts, for a budget of `limit`.
fn start(limit: usize) -> usize {
    limit - limit / 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_is_due_from_fifteen_sixteenths_and_stays_due_at_the_budget() {
        let budget = Budget::new(160 * 1024);
        let mut topic = 0;
        budget.record(&mut topic, 150 * 1024);
        assert!(!budget.over());
        budget.record(&mut topic, 151 * 1024);
        assert!(budget.over());
        // The pass brought it under: the next is due at the same point, whatever the slack.
        budget.record(&mut topic, budget.target());
        budget.end_pass();
        budget.record(&mut topic, 151 * 1024);
        assert!(budget.over());
        // Subscribers hold more than the budget: the next pass waits for 64 KiB more.
        budget.record(&mut topic, 200 * 1024);
        budget.end_pass();
        budget.record(&mut topic, 263 * 1024);
        assert!(!budget.over());
        budget.record(&mut topic, 265 * 1024);
        assert!(budget.over());
        // They left: due again from fifteen sixteenths.
        budget.record(&mut topic, 100 * 1024);
        budget.record(&mut topic, 151 * 1024);
        assert!(budget.over());
        assert_eq!(budget.used(), topic);
    }
}
