//! The in-process hub: topics in a map, each with its own lock, history and subscribers.
//!
//! Locks are always taken in the order map → topic → subscriber queue. A publish holds
//! its topic's lock while it takes the next position, encodes the frame, pushes it to
//! every subscriber and appends it to the history; a subscribe notes the range of history
//! it must replay (a cursor, up to the newest position) and registers its queue under that
//! same lock. So within a topic, every subscriber sees the publishes in position order,
//! and a resume has neither a gap nor a duplicate at the seam between history and live.
//! The replay itself is read from the history a few frames at a time as the subscriber
//! takes them; if the history drops frames of that range first (it is trimmed by newer
//! publishes, or evicted), the subscriber gets a reset (`trimmed`) instead.
//!
//! Across topics, positions come from one counter, but two topics publish in parallel: a
//! subscriber of both may receive position 10 before 9. Its subscription therefore merges
//! its lanes by position, and only hands out position `c` once no publish of one of its
//! topics that may carry a lower position is still on its way: a publish *announces*
//! itself to every multi-topic queue of its topic before it takes its position, with the
//! least position it can take (the hub's next one), and withdraws the announcement when it
//! pushes (`Queue::announce`). A publish announced at `c + 1` or later cannot block `c`,
//! so a subscriber only ever waits for publishes that started before `c` was taken.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        atomic::{
            AtomicU64,
            Ordering::{Relaxed, SeqCst},
        },
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};

use super::{
    budget::{self, Budget},
    history::{Bounds, History},
    id::{new_epoch, EventId},
    lock,
    queue::{Limit, Pushed, Queue, REFILL},
    ChannelEvent, ResumeFrom,
};

pub(crate) struct Config {
    pub(crate) bounds: Bounds,
    pub(crate) limit: Limit,
    pub(crate) reset_event: String,
    pub(crate) replay_last: usize,
    /// What all topics may cost together, in bytes.
    pub(crate) budget: usize,
}

pub(crate) struct Hub {
    config: Config,
    epoch: u64,
    /// The next position to hand out; positions start at 1, so 0 is "before everything".
    next_seq: AtomicU64,
    /// The highest position trimmed from a topic that was then removed: a topic created
    /// afresh cannot tell whether a position older than this lost anything.
    removed_upto: AtomicU64,
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    budget: Budget,
}

struct Topic {
    name: Arc<str>,
    /// The position of its latest publish: the least recent are evicted first.
    last: AtomicU64,
    state: std::sync::Mutex<TopicState>,
}

struct TopicState {
    /// Taken out of the map: whoever holds this `Arc` looks the topic up again.
    removed: bool,
    history: History,
    /// A slab: a subscription remembers its slot, so leaving is O(1).
    subs: Vec<Option<Sub>>,
    free: Vec<usize>,
    count: usize,
    multi: usize,
    /// What it adds to the hub's budget now.
    cost: usize,
}

struct Sub {
    queue: Arc<Queue>,
    lane: usize,
}

impl TopicState {
    fn idle(&self) -> bool {
        self.count == 0 && self.history.is_empty()
    }

    fn insert(&mut self, sub: Sub) -> usize {
        self.count += 1;
        self.multi += usize::from(sub.queue.multi);
        match self.free.pop() {
            Some(slot) => {
                self.subs[slot] = Some(sub);
                slot
            }
            None => {
                self.subs.push(Some(sub));
                self.subs.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize, queue: &Arc<Queue>) {
        if let Some(Some(sub)) = self.subs.get(slot) {
            if Arc::ptr_eq(&sub.queue, queue) {
                self.vacate(slot);
            }
        }
        if self.count == 0 {
            // Give back the slab of a topic that had many subscribers.
            self.subs = Vec::new();
            self.free = Vec::new();
        }
    }

    fn vacate(&mut self, slot: usize) {
        if let Some(sub) = self.subs[slot].take() {
            self.count -= 1;
            self.multi -= usize::from(sub.queue.multi);
            self.free.push(slot);
        }
    }
}

/// Where a subscription starts.
#[derive(Clone, Copy)]
enum Start {
    Live,
    After(u64),
    Unknown,
}

impl Hub {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            epoch: new_epoch(),
            next_seq: AtomicU64::new(1),
            removed_upto: AtomicU64::new(0),
            topics: RwLock::new(HashMap::new()),
            budget: Budget::new(config.budget),
            config,
        }
    }

    fn map(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn map_mut(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest position handed out so far (0 before the first publish).
    fn head(&self) -> u64 {
        self.next_seq.load(SeqCst) - 1
    }

    fn lookup(&self, name: &str) -> Arc<Topic> {
        if let Some(topic) = self.map().get(name) {
            return topic.clone();
        }
        let mut map = self.map_mut();
        let name: Arc<str> = name.into();
        map.entry(name.clone())
            .or_insert_with(|| {
                Arc::new(Topic {
                    name,
                    last: AtomicU64::new(0),
                    state: std::sync::Mutex::new(TopicState {
                        removed: false,
                        history: History::new(self.removed_upto.load(SeqCst)),
                        subs: Vec::new(),
                        free: Vec::new(),
                        count: 0,
                        multi: 0,
                        cost: 0,
                    }),
                })
            })
            .clone()
    }

    /// Runs `f` on the topic under its lock (creating the topic if needed), then removes
    /// the topic if it is left with no subscriber and no history.
    fn with_topic<R>(&self, name: &str, f: impl FnOnce(&Arc<Topic>, &mut TopicState) -> R) -> R {
        loop {
            let topic = self.lookup(name);
            let mut st = lock(&topic.state);
            if st.removed {
                continue;
            }
            let out = f(&topic, &mut st);
            self.settle(&topic, &mut st);
            let idle = st.idle();
            drop(st);
            if idle {
                self.remove_if_idle(&topic);
            }
            if self.budget.over() {
                self.evict();
            }
            return out;
        }
    }

    /// Records what a topic costs now in the hub's budget (under its lock, after a change).
    fn settle(&self, topic: &Topic, st: &mut TopicState) {
        let now = if st.removed {
            0
        } else {
            budget::topic_cost::<Topic>(&topic.name)
                + budget::slots::<Option<Sub>>(st.subs.capacity())
                + budget::slots::<usize>(st.free.capacity())
                + st.history.footprint()
        };
        self.budget.record(&mut st.cost, now);
    }

    fn remove_if_idle(&self, topic: &Arc<Topic>) {
        let mut map = self.map_mut();
        let mut st = lock(&topic.state);
        if st.removed || !st.idle() {
            return;
        }
        st.removed = true;
        self.settle(topic, &mut st);
        self.removed_upto.fetch_max(st.history.lost_upto(), SeqCst);
        if map.get(&topic.name).is_some_and(|t| Arc::ptr_eq(t, topic)) {
            map.remove(&topic.name);
            // Give back the room of topics that are gone (amortized: the map has to lose
            // half its entries again before the next time).
            if map.capacity() > 64 && map.len() < map.capacity() / 4 {
                let keep = map.len() * 2;
                map.shrink_to(keep);
            }
        }
    }

    /// Evicts the history of the least recently published topics until the hub is back
    /// within its budget (see `budget`). A topic left with no subscriber is removed; a
    /// client resuming into it gets a reset (`trimmed`).
    fn evict(&self) {
        let Some(_pass) = self.budget.start_pass() else {
            return;
        };
        if !self.budget.over() {
            return;
        }
        let mut all: Vec<(u64, Arc<Topic>)> = self
            .map()
            .values()
            .map(|t| (t.last.load(Relaxed), t.clone()))
            .collect();
        all.sort_unstable_by_key(|t| t.0);
        let target = self.budget.target();
        for (_, topic) in &all {
            if self.budget.used() <= target {
                break;
            }
            let mut st = lock(&topic.state);
            if st.removed || st.history.is_empty() {
                continue;
            }
            st.history.evict();
            self.settle(topic, &mut st);
            let idle = st.idle();
            drop(st);
            if idle {
                self.remove_if_idle(topic);
            }
        }
        self.budget.end_pass();
    }

    /// What all topics cost together now, in bytes.
    pub(crate) fn memory_used(&self) -> usize {
        self.budget.used()
    }

    /// Publishes one frame: `write` encodes it for the id it is given. Nothing here waits
    /// on a subscriber.
    pub(crate) fn publish(
        &self,
        name: &str,
        write: impl FnOnce(EventId, &mut BytesMut),
    ) -> EventId {
        let config = &self.config;
        self.with_topic(name, |topic, st| {
            let announced = Announced::new(&st.subs, st.multi > 0, &self.next_seq);
            let seq = self.next_seq.fetch_add(1, SeqCst);
            let id = EventId::new(self.epoch, seq);
            topic.last.store(seq, Relaxed);
            let frame = encode_frame(|buf| write(id, buf));
            // From here on every queue gets a push, which withdraws the announcement.
            let floor = announced.disarm();

            for slot in 0..st.subs.len() {
                let Some(sub) = &st.subs[slot] else { continue };
                let pushed = sub.queue.push(
                    sub.lane,
                    seq,
                    &frame,
                    config.limit,
                    || self.head(),
                    floor.filter(|_| sub.queue.multi),
                );
                if pushed == Pushed::Ended {
                    st.vacate(slot);
                }
            }
            st.history.push(seq, &frame, &config.bounds);
            id
        })
    }

    /// Registers a subscription on `names` (deduplicated by the caller), resuming after
    /// `from` if it is a position this hub still covers.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        names: &[&str],
        from: ResumeFrom<'_>,
    ) -> MemorySubscription {
        let start = match (from, from.id()) {
            (ResumeFrom::Unreadable, _) => Start::Unknown,
            (_, None) => Start::Live,
            (_, Some(text)) => match text.parse::<EventId>() {
                Ok(id) if id.epoch() == self.epoch && id.sequence() <= self.head() => {
                    Start::After(id.sequence())
                }
                _ => Start::Unknown,
            },
        };
        let queue = Arc::new(Queue::new(names.len()));
        let mut topics = Vec::with_capacity(names.len());
        let mut trimmed = false;
        let replay_last = self.config.replay_last;
        for (lane, name) in names.iter().enumerate() {
            self.with_topic(name, |topic, st| {
                st.history.trim(&self.config.bounds);
                let mut q = queue.lock();
                match start {
                    Start::After(seq) if st.history.lost_upto() > seq => trimmed = true,
                    Start::After(seq) => {
                        if let Some(cursor) = st.history.cursor(seq, self.head()) {
                            q.defer_replay(lane, cursor);
                        }
                    }
                    Start::Live if replay_last > 0 => q.replay(lane, st.history.last(replay_last)),
                    Start::Live | Start::Unknown => {}
                }
                drop(q);
                let slot = st.insert(Sub {
                    queue: queue.clone(),
                    lane,
                });
                topics.push((topic.clone(), slot));
            });
        }
        {
            // Registered everywhere: whatever is published from now on reaches the queue.
            let mut q = queue.lock();
            match start {
                Start::Unknown => q.reset_at(self.head(), "unknown-id"),
                Start::After(_) if trimmed => q.reset_at(self.head(), "trimmed"),
                // Several topics were registered one after the other: start them all at
                // one position, so the client's first id covers every topic alike.
                Start::Live if replay_last == 0 && names.len() > 1 => q.skip_upto = self.head(),
                Start::Live if names.len() > 1 => {
                    let mut seqs: Vec<u64> = q.replayed().collect();
                    if seqs.len() > replay_last {
                        let cut = seqs.len() - replay_last - 1;
                        let (_, cutoff, _) = seqs.select_nth_unstable(cut);
                        let cutoff = *cutoff;
                        q.drop_replay_upto(cutoff);
                    }
                }
                _ => {}
            }
        }
        MemorySubscription {
            hub: self.clone(),
            queue,
            topics,
            done: false,
        }
    }

    pub(crate) fn subscriber_count(&self, name: &str) -> usize {
        let topic = self.map().get(name).cloned();
        topic.map_or(0, |t| lock(&t.state).count)
    }

    pub(crate) fn topic_count(&self) -> usize {
        self.map().len()
    }

    /// Trims every topic's history by age and removes idle topics.
    pub(crate) fn sweep(&self) {
        let all: Vec<Arc<Topic>> = self.map().values().cloned().collect();
        for topic in all {
            let mut st = lock(&topic.state);
            st.history.trim(&self.config.bounds);
            self.settle(&topic, &mut st);
            let idle = st.idle() && !st.removed;
            drop(st);
            if idle {
                self.remove_if_idle(&topic);
            }
        }
    }
}

/// The announcements of one publish to its multi-topic subscribers (`Queue::announce`),
/// withdrawn if the publish unwinds before pushing, so no subscriber waits for it forever.
struct Announced<'a> {
    subs: &'a [Option<Sub>],
    /// The least position the publish can take, if it announced itself.
    floor: Option<u64>,
}

impl<'a> Announced<'a> {
    fn new(subs: &'a [Option<Sub>], any: bool, next_seq: &AtomicU64) -> Self {
        let floor = any.then(|| next_seq.load(SeqCst));
        if let Some(floor) = floor {
            for sub in Self::multi(subs) {
                sub.queue.announce(floor);
            }
        }
        Self { subs, floor }
    }

    fn multi(subs: &[Option<Sub>]) -> impl Iterator<Item = &Sub> {
        subs.iter().flatten().filter(|s| s.queue.multi)
    }

    /// Once nothing can unwind before the pushes: the floor to withdraw with each.
    fn disarm(mut self) -> Option<u64> {
        self.floor.take()
    }
}

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        if let Some(floor) = self.floor {
            for sub in Self::multi(self.subs) {
                sub.queue.withdraw(floor);
            }
        }
    }
}

/// Encodes into a reused per-thread buffer, then copies into a frame of exactly the
/// encoded size: history memory stays close to the bytes it holds.
fn encode_frame(write: impl FnOnce(&mut BytesMut)) -> Bytes {
    thread_local! {
        static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            write(&mut buf);
            let frame = Bytes::copy_from_slice(&buf);
            if buf.capacity() > 64 * 1024 {
                *buf = BytesMut::new();
            }
            frame
        }
        Err(_) => {
            let mut buf = BytesMut::new();
            write(&mut buf);
            Bytes::copy_from_slice(&buf)
        }
    })
}

/// The memory backend's side of a `Subscription`.
pub(crate) struct MemorySubscription {
    hub: Arc<Hub>,
    queue: Arc<Queue>,
    /// Every topic with this subscription's slot in it; the index is the lane.
    topics: Vec<(Arc<Topic>, usize)>,
    done: bool,
}

impl MemorySubscription {
    pub(crate) fn lagged(&self) -> bool {
        self.queue.lock().lagged
    }

    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<ChannelEvent>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            let mut st = self.queue.lock();
            if let Some((position, reason)) = st.reset.take() {
                drop(st);
                let topic = self.topics.first().map(|t| t.0.name.clone());
                return Poll::Ready(Some(ChannelEvent::reset(
                    topic.unwrap_or_else(|| "".into()),
                    EventId::new(self.hub.epoch, position),
                    &self.hub.config.reset_event,
                    reason,
                )));
            }
            if st.closed || self.topics.is_empty() {
                drop(st);
                self.done = true;
                return Poll::Ready(None);
            }
            if let Some(lane) = st.wants_refill() {
                drop(st);
                self.refill(lane);
                continue;
            }
            let Some((lane, seq)) = st.next() else {
                st.park(cx.waker());
                return Poll::Pending;
            };
            if self.queue.multi && st.awaits_publish(seq) {
                // A lower position may be on its way: the push that withdraws the
                // announcement wakes us.
                st.park(cx.waker());
                return Poll::Pending;
            }
            let Some((seq, frame)) = st.pop(lane) else {
                continue;
            };
            if seq <= st.skip_upto {
                continue;
            }
            drop(st);
            return Poll::Ready(Some(ChannelEvent::new(
                self.topics[lane].0.name.clone(),
                EventId::new(self.hub.epoch, seq),
                frame,
            )));
        }
    }

    /// Reads the next frames of a lane's replay from its topic's history.
    fn refill(&self, lane: usize) {
        let topic = &self.topics[lane].0;
        // The lock order: topic, then queue.
        let st = lock(&topic.state);
        self.queue.lock().refill(
            lane,
            |cursor, out| st.history.read_at(cursor, REFILL, out),
            || self.hub.head(),
        );
    }
}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        for (topic, slot) in &self.topics {
            let mut st = lock(&topic.state);
            st.remove(*slot, &self.queue);
            self.hub.settle(topic, &mut st);
            let idle = st.idle() && !st.removed;
            drop(st);
            if idle {
                self.hub.remove_if_idle(topic);
            }
        }
    }
}
