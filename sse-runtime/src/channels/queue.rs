//! One subscriber's queue: what publishers push into and the subscription pops from.
//!
//! A queue has one *lane* per topic of its subscription. Within a lane, frames are in
//! sequence order (the topic's lock orders its publishes); across lanes the subscription
//! merges by sequence, with a heap of the lanes' first positions, so taking the next
//! frame costs O(log lanes) whatever the number of topics. Replayed history sits at the
//! front of each lane and does not count against the live bounds. A resume's replay is not
//! copied in at once: the lane keeps a cursor into the topic's history and the
//! subscription reads a few frames at a time through it (`refill`), so a client that
//! missed a thousand events costs a cursor, not a thousand handles.
//!
//! Live frames are bounded twice: by count and by bytes (their encoded length). A frame is
//! shared by every queue it was pushed to and allocated once; each queue counts it at its
//! full length, so the bytes a stalled subscriber can keep alive by itself never exceed
//! its bound.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
    sync::{Mutex, MutexGuard},
    task::Waker,
};

use bytes::Bytes;

use super::{
    history::{Cursor, Lost},
    lock, Lag,
};
use crate::metrics::{self, COUNTERS};

pub(crate) struct Queue {
    /// Subscribed to several topics (the memory hub then announces its publishes, see
    /// `announce`).
    pub(crate) multi: bool,
    state: Mutex<State>,
}

pub(crate) struct State {
    lanes: Vec<Lane>,
    /// Publishes of this queue's topics that are about to take a position and have not
    /// pushed it here yet: the least position each can take (see `announce`).
    announced: Vec<u64>,
    /// With several lanes: each non-empty lane's first position, smallest on top.
    heads: BinaryHeap<Reverse<(u64, usize)>>,
    /// Live frames queued, across lanes: bounded by the hub's `queue` setting.
    live: usize,
    /// Their encoded bytes: bounded by the hub's `queue_bytes` setting.
    live_bytes: usize,
    waker: Option<Waker>,
    /// The subscription ended (lagged behind with `Lag::End`).
    pub(crate) closed: bool,
    /// It fell behind at least once.
    pub(crate) lagged: bool,
    /// A reset event to deliver next: its position and its reason.
    pub(crate) reset: Option<(u64, &'static str)>,
    /// The epoch of that reset's position when the backend's epoch can change (0: the
    /// hub's own).
    #[cfg(feature = "redis")]
    pub(crate) reset_epoch: u64,
    /// The epoch the subscriber's position is in (0: not known yet).
    #[cfg(feature = "redis")]
    pub(crate) epoch: u64,
    /// Frames at or below this position are dropped (they precede a reset).
    pub(crate) skip_upto: u64,
    /// Live frames at or below this position are not queued: the replay has them (set by
    /// `seam`, for a backend whose live feed can lag behind its history).
    live_floor: u64,
    /// How many lanes have replay left to read through their cursor.
    deferred: usize,
}

#[derive(Default)]
struct Lane {
    frames: VecDeque<(u64, Bytes)>,
    /// How many frames at the front are replayed history.
    replay: usize,
    /// Replay still to read from the topic's history, after the frames above.
    cursor: Option<Cursor>,
}

/// How many replayed frames a lane reads from its topic's history at a time.
pub(crate) const REFILL: usize = 32;

/// How many live frames a queue holds, and what happens beyond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// At most this many live frames.
    pub(crate) queue: usize,
    /// At most this many bytes of live frames, unless the queue holds one frame only.
    pub(crate) bytes: usize,
    pub(crate) lag: Lag,
}

impl Limit {
    /// Whether a queue holding `live` frames of `bytes` in all has no room for `len` more.
    fn full(&self, live: usize, bytes: usize, len: usize) -> bool {
        live >= self.queue || (live > 0 && bytes + len > self.bytes)
    }
}

/// What the topic does with a subscriber after a push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Kept,
    /// The queue overflowed under `Lag::End`: forget this subscriber.
    Ended,
}

impl Queue {
    pub(crate) fn new(lanes: usize) -> Self {
        Self {
            multi: lanes > 1,
            state: Mutex::new(State {
                lanes: (0..lanes).map(|_| Lane::default()).collect(),
                announced: Vec::new(),
                heads: BinaryHeap::new(),
                live: 0,
                live_bytes: 0,
                waker: None,
                closed: false,
                lagged: false,
                reset: None,
                #[cfg(feature = "redis")]
                reset_epoch: 0,
                #[cfg(feature = "redis")]
                epoch: 0,
                skip_upto: 0,
                live_floor: 0,
                deferred: 0,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Tells the queue that a publish of one of its topics is about to take a position,
    /// `floor` or later (the hub's next position, read before it takes one): until that
    /// publish has pushed it here, no frame at or after `floor` can be handed out. Called
    /// under the topic's lock; `push` with `Some(floor)` withdraws it.
    pub(crate) fn announce(&self, floor: u64) {
        self.lock().announced.push(floor);
    }

    /// Withdraws an announcement with nothing to push (the publish failed), waking the
    /// subscriber.
    pub(crate) fn withdraw(&self, floor: u64) {
        self.lock().withdraw(floor);
        self.wake();
    }

    /// Pushes one live frame. Never blocks on the subscriber: a full queue is handled by
    /// `limit.lag` right here. `head` gives the newest position allocated so far (read under the
    /// queue lock, so nothing newer is already queued). `announced`: the floor the publish
    /// announced itself with (see `announce`). Wakes the subscriber.
    pub(crate) fn push(
        &self,
        lane: usize,
        seq: u64,
        frame: &Bytes,
        limit: Limit,
        head: impl FnOnce() -> u64,
        announced: Option<u64>,
    ) -> Pushed {
        let mut st = self.lock();
        if let Some(floor) = announced {
            // Under the queue lock: a subscriber that sees the announcement gone also sees
            // this frame.
            st.withdraw(floor);
        }
        if st.closed {
            return Pushed::Ended;
        }
        if seq <= st.live_floor {
            return Pushed::Kept;
        }
        let mut pushed = Pushed::Kept;
        if limit.full(st.live, st.live_bytes, frame.len()) {
            st.lagged = true;
            st.clear();
            match limit.lag {
                Lag::End => {
                    st.closed = true;
                    pushed = Pushed::Ended;
                    metrics::add(&COUNTERS.subscribers_ended_lag, 1);
                }
                Lag::Reset => {
                    st.reset_at(head(), "lagged");
                    metrics::add(&COUNTERS.subscribers_reset_lag, 1);
                }
            }
        } else {
            st.push_back(lane, seq, frame.clone());
            st.live += 1;
            st.live_bytes += frame.len();
        }
        let waker = st.waker.take();
        drop(st);
        if let Some(waker) = waker {
            waker.wake();
        }
        pushed
    }

    /// Wakes the subscriber if it waits.
    pub(crate) fn wake(&self) {
        let waker = self.lock().waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl State {
    /// Whether a publish that announced itself may still push a position at or below
    /// `seq`: then `seq` cannot be handed out yet. A publish that announces after this
    /// check takes a position after every one queued now.
    pub(crate) fn awaits_publish(&self, seq: u64) -> bool {
        self.announced.iter().any(|&floor| floor <= seq)
    }

    fn withdraw(&mut self, floor: u64) {
        if let Some(i) = self.announced.iter().position(|&f| f == floor) {
            self.announced.swap_remove(i);
        }
    }

    /// Appends a frame to a lane, keeping the heap of first positions.
    fn push_back(&mut self, lane: usize, seq: u64, frame: Bytes) {
        if self.lanes.len() > 1 && self.lanes[lane].frames.is_empty() {
            self.heads.push(Reverse((seq, lane)));
        }
        self.lanes[lane].frames.push_back((seq, frame));
    }

    /// Rebuilds the heap of first positions after lanes changed at their front.
    fn reindex(&mut self) {
        if self.lanes.len() > 1 {
            let heads = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.frames.front().map(|f| Reverse((f.0, i))))
                .collect();
            self.heads = heads;
        }
    }

    /// Appends replayed history to a lane (called under the topic lock, before any live
    /// frame of that topic can arrive).
    pub(crate) fn replay(&mut self, lane: usize, frames: impl Iterator<Item = (u64, Bytes)>) {
        for (seq, frame) in frames {
            self.push_back(lane, seq, frame);
            self.lanes[lane].replay += 1;
        }
    }

    /// Makes a lane replay the frames of `cursor`'s range, read from the topic's history
    /// as the subscriber gets to them (called under the topic lock, before any live frame
    /// of that topic can arrive).
    pub(crate) fn defer_replay(&mut self, lane: usize, cursor: Cursor) {
        debug_assert!(self.lanes[lane].cursor.is_none());
        self.lanes[lane].cursor = Some(cursor);
        self.deferred += 1;
    }

    /// A lane whose queued replay is used up while its cursor has more: before any frame
    /// is handed out, it must be refilled (its next frame may come before every other
    /// lane's and before its own live frames).
    pub(crate) fn wants_refill(&self) -> Option<usize> {
        if self.deferred == 0 {
            return None;
        }
        self.lanes
            .iter()
            .position(|l| l.replay == 0 && l.cursor.is_some())
    }

    /// Refills a lane that `wants_refill`, with `read` (the topic's
    /// `History::read_at`, called under the topic's lock, which the caller holds): up to
    /// [`REFILL`] frames go in front of its live frames. If the history lost frames the
    /// cursor had not read yet, the subscriber gets a reset (`trimmed`) at `head`.
    pub(crate) fn refill(
        &mut self,
        lane: usize,
        read: impl FnOnce(&mut Cursor, &mut dyn FnMut(u64, Bytes)) -> Result<bool, Lost>,
        head: impl FnOnce() -> u64,
    ) {
        let l = &mut self.lanes[lane];
        // Between `wants_refill` and here, a reset may have cleared it.
        let Some(mut cursor) = l.cursor.take().filter(|_| l.replay == 0) else {
            return;
        };
        self.deferred -= 1;
        let mut at = 0;
        let frames = &mut l.frames;
        let more = read(&mut cursor, &mut |seq, frame| {
            frames.insert(at, (seq, frame));
            at += 1;
        });
        l.replay += at;
        match more {
            Ok(true) => {
                l.cursor = Some(cursor);
                self.deferred += 1;
            }
            Ok(false) => {}
            Err(Lost) => return self.reset_at(head(), "trimmed"),
        }
        self.reindex();
    }

    /// Keeps only the replayed frames newer than `cutoff` (for `replay_last` over several
    /// topics, once every lane is filled).
    pub(crate) fn drop_replay_upto(&mut self, cutoff: u64) {
        for lane in &mut self.lanes {
            while lane.replay > 0 && lane.frames.front().is_some_and(|f| f.0 <= cutoff) {
                lane.frames.pop_front();
                lane.replay -= 1;
            }
        }
        self.reindex();
    }

    /// The replayed positions, to pick a cutoff.
    pub(crate) fn replayed(&self) -> impl Iterator<Item = u64> + '_ {
        self.lanes
            .iter()
            .flat_map(|l| l.frames.iter().take(l.replay).map(|f| f.0))
    }

    /// Puts `replay` (lane, position, frame; every position at most `head`) in front of
    /// the live frames, which from now on must be newer than `head`: those at or below it
    /// arrived live before the replay was read, and the replay has them.
    #[cfg(feature = "redis")]
    pub(crate) fn seam(&mut self, head: u64, mut replay: Vec<(usize, u64, Bytes)>) {
        self.live_floor = head;
        replay.sort_unstable_by_key(|r| r.1);
        self.keep_live(|seq, _| seq > head);
        for (lane, seq, frame) in replay.into_iter().rev() {
            let lane = &mut self.lanes[lane];
            lane.frames.push_front((seq, frame));
            lane.replay += 1;
        }
        self.reindex();
    }

    /// Keeps only the queued live frames for which `keep` is true.
    #[cfg(feature = "redis")]
    pub(crate) fn keep_live(&mut self, keep: impl Fn(u64, &Bytes) -> bool) {
        for lane in &mut self.lanes {
            let before = lane.frames.len();
            let mut gone = 0;
            lane.frames.retain(|f| {
                let kept = keep(f.0, &f.1);
                if !kept {
                    gone += f.1.len();
                }
                kept
            });
            self.live -= before - lane.frames.len();
            self.live_bytes -= gone;
        }
        self.reindex();
    }

    /// A reset at `position` of `epoch` comes first, then the live frames still queued
    /// (the caller kept only those after it), then live frames after it.
    #[cfg(feature = "redis")]
    pub(crate) fn reset_before_live(&mut self, epoch: u64, position: u64, reason: &'static str) {
        self.reset = Some((position, reason));
        self.reset_epoch = epoch;
        self.epoch = epoch;
        self.skip_upto = position;
        self.live_floor = position;
    }

    /// `reset_at` a position of `epoch`.
    #[cfg(feature = "redis")]
    pub(crate) fn reset_in(&mut self, epoch: u64, position: u64, reason: &'static str) {
        self.reset_at(position, reason);
        self.reset_epoch = epoch;
        self.epoch = epoch;
    }

    /// Forgets everything queued and delivers a reset at `position` next.
    pub(crate) fn reset_at(&mut self, position: u64, reason: &'static str) {
        self.clear();
        self.skip_upto = position;
        // After a reset positions may start lower (a new epoch).
        self.live_floor = self.live_floor.min(position);
        self.reset = Some((position, reason));
    }

    fn clear(&mut self) {
        for lane in &mut self.lanes {
            lane.frames.clear();
            lane.replay = 0;
            lane.cursor = None;
        }
        self.deferred = 0;
        self.heads.clear();
        self.live = 0;
        self.live_bytes = 0;
    }

    /// The lane whose next frame has the lowest position, and that position.
    pub(crate) fn next(&self) -> Option<(usize, u64)> {
        if let [lane] = self.lanes.as_slice() {
            return lane.frames.front().map(|f| (0, f.0));
        }
        self.heads.peek().map(|Reverse((seq, lane))| (*lane, *seq))
    }

    pub(crate) fn pop(&mut self, lane: usize) -> Option<(u64, Bytes)> {
        let lane_ref = &mut self.lanes[lane];
        let frame = lane_ref.frames.pop_front()?;
        if lane_ref.replay > 0 {
            lane_ref.replay -= 1;
        } else {
            self.live -= 1;
            self.live_bytes -= frame.1.len();
        }
        if self.lanes.len() > 1 {
            // Callers pop the lane `next` named, whose position is on top.
            debug_assert_eq!(self.heads.peek(), Some(&Reverse((frame.0, lane))));
            self.heads.pop();
            if let Some(next) = self.lanes[lane].frames.front() {
                self.heads.push(Reverse((next.0, lane)));
            }
        }
        Some(frame)
    }

    /// Registers the task to wake on the next push.
    pub(crate) fn park(&mut self, waker: &Waker) {
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        queue: 100,
        bytes: 1 << 20,
        lag: Lag::End,
    };

    #[test]
    fn an_announced_publish_holds_back_only_positions_it_may_precede() {
        let q = Queue::new(2);
        let frame = Bytes::from_static(b"x");
        // Position 5 is queued; a publish of the other topic announces from 6 on.
        q.announce(5);
        q.announce(6);
        assert_eq!(q.push(0, 5, &frame, LIMIT, || 5, Some(5)), Pushed::Kept);
        let st = q.lock();
        assert_eq!(st.next(), Some((0, 5)));
        assert!(
            !st.awaits_publish(5),
            "a later publish does not hold 5 back"
        );
        drop(st);
        // One announced at 5 holds it back (it read the next position before 5 was taken:
        // conservatively, it may come before).
        q.announce(5);
        assert!(q.lock().awaits_publish(5));
        q.withdraw(5);
        assert!(!q.lock().awaits_publish(5));
        // The lanes merge by position through the heap.
        assert_eq!(q.push(1, 6, &frame, LIMIT, || 6, Some(6)), Pushed::Kept);
        let mut st = q.lock();
        assert_eq!(st.pop(0).map(|f| f.0), Some(5));
        assert_eq!(st.next(), Some((1, 6)));
        assert!(!st.awaits_publish(6));
    }
}
