//! One subscriber's queue: what publishers push into and the subscription pops from.
//!
//! A queue has one *lane* per topic of its subscription. Within a lane, frames are in
//! sequence order (the topic's lock orders its publishes); across lanes the subscription
//! merges by sequence. Replayed history sits at the front of each lane and does not count
//! against the live bound.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard},
    task::Waker,
};

use bytes::Bytes;

use super::{lock, Lag};
use crate::metrics::{self, COUNTERS};

pub(crate) struct Queue {
    /// Subscribed to several topics: publishers wake it only after their publish is
    /// complete (see `memory::Hub::publish`).
    pub(crate) multi: bool,
    state: Mutex<State>,
}

pub(crate) struct State {
    lanes: Vec<Lane>,
    /// Live frames queued, across lanes: bounded by the hub's `queue` setting.
    live: usize,
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
}

#[derive(Default)]
struct Lane {
    frames: VecDeque<(u64, Bytes)>,
    /// How many frames at the front are replayed history.
    replay: usize,
}

/// How many live frames a queue holds, and what happens beyond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) queue: usize,
    pub(crate) lag: Lag,
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
                live: 0,
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
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Pushes one live frame. Never blocks on the subscriber: a full queue is handled by
    /// `limit.lag` right here. `head` gives the newest position allocated so far (read under the
    /// queue lock, so nothing newer is already queued). Wakes the subscriber unless `defer`.
    pub(crate) fn push(
        &self,
        lane: usize,
        seq: u64,
        frame: &Bytes,
        limit: Limit,
        head: impl FnOnce() -> u64,
        defer: bool,
    ) -> Pushed {
        let mut st = self.lock();
        if st.closed {
            return Pushed::Ended;
        }
        if seq <= st.live_floor {
            return Pushed::Kept;
        }
        let mut pushed = Pushed::Kept;
        if st.live >= limit.queue {
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
            st.lanes[lane].frames.push_back((seq, frame.clone()));
            st.live += 1;
            if defer {
                return Pushed::Kept;
            }
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
    /// Appends replayed history to a lane (called under the topic lock, before any live
    /// frame of that topic can arrive).
    pub(crate) fn replay(&mut self, lane: usize, frames: impl Iterator<Item = (u64, Bytes)>) {
        let lane = &mut self.lanes[lane];
        for frame in frames {
            lane.frames.push_back(frame);
            lane.replay += 1;
        }
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
    }

    /// Keeps only the queued live frames for which `keep` is true.
    #[cfg(feature = "redis")]
    pub(crate) fn keep_live(&mut self, keep: impl Fn(u64, &Bytes) -> bool) {
        for lane in &mut self.lanes {
            let before = lane.frames.len();
            lane.frames.retain(|f| keep(f.0, &f.1));
            self.live -= before - lane.frames.len();
        }
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
        }
        self.live = 0;
    }

    /// The lane whose next frame has the lowest position, and that position.
    pub(crate) fn next(&self) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(&(seq, _)) = lane.frames.front() {
                if best.map_or(true, |(_, b)| seq < b) {
                    best = Some((i, seq));
                }
            }
        }
        best
    }

    pub(crate) fn pop(&mut self, lane: usize) -> Option<(u64, Bytes)> {
        let lane_ref = &mut self.lanes[lane];
        let frame = lane_ref.frames.pop_front()?;
        if lane_ref.replay > 0 {
            lane_ref.replay -= 1;
        } else {
            self.live -= 1;
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
