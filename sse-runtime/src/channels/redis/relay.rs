//! One instance's link to the live feed: a Pub/Sub connection that listens to every topic
//! with a local subscriber and hands each event to their queues, once per instance.
//!
//! The relay remembers the epoch and the newest position it delivered. After losing the
//! connection it reconnects, listens again, and reads from the history what was published
//! meanwhile (one atomic read over all its topics, merged by position, so a subscriber of
//! several topics still gets them in order). Subscribers skip what they already have.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{atomic::Ordering::SeqCst, Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};

use super::{
    frames, BackendError, Mode, Shared, Start, CONNECT_TIMEOUT, MAX_BACKOFF, RESPONSE_TIMEOUT,
};
use crate::channels::{
    id::EventId,
    lock,
    queue::{Pushed, Queue},
};

/// What subscriptions ask of the relay task.
pub(crate) enum Command {
    /// Listen to these topics; answers once Redis confirmed it.
    Listen(Vec<Arc<str>>, oneshot::Sender<Result<(), BackendError>>),
    /// The topic's last local subscriber left: stop listening unless one came back.
    Forget(Arc<str>),
    /// The master changed (a Sentinel failover): connect again, to the new one.
    Reconnect,
}

#[derive(Default)]
pub(crate) struct Relay {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    topics: HashMap<Arc<str>, Topic>,
    /// The epoch of what was delivered (0: nothing seen yet).
    epoch: u64,
    /// The newest position delivered; a catch-up reads what came after it.
    position: u64,
}

#[derive(Default)]
struct Topic {
    /// A slab: a subscription remembers its slot.
    subs: Vec<Option<(Arc<Queue>, usize)>>,
    free: Vec<usize>,
    count: usize,
}

impl Topic {
    fn vacate(&mut self, slot: usize) {
        if self.subs[slot].take().is_some() {
            self.count -= 1;
            self.free.push(slot);
        }
    }
}

impl Relay {
    /// Adds a subscription's queue to each topic (lane = index); returns its slots.
    pub(crate) fn register(&self, topics: &[Arc<str>], queue: &Arc<Queue>) -> Vec<usize> {
        let mut st = lock(&self.state);
        topics
            .iter()
            .enumerate()
            .map(|(lane, name)| {
                let topic = st.topics.entry(name.clone()).or_default();
                topic.count += 1;
                let sub = Some((queue.clone(), lane));
                match topic.free.pop() {
                    Some(slot) => {
                        topic.subs[slot] = sub;
                        slot
                    }
                    None => {
                        topic.subs.push(sub);
                        topic.subs.len() - 1
                    }
                }
            })
            .collect()
    }

    /// Removes a subscription; returns the topics left without a local subscriber.
    pub(crate) fn unregister(
        &self,
        topics: &[Arc<str>],
        slots: &[usize],
        queue: &Arc<Queue>,
    ) -> Vec<Arc<str>> {
        let mut st = lock(&self.state);
        let mut gone = Vec::new();
        for (name, &slot) in topics.iter().zip(slots) {
            let Some(topic) = st.topics.get_mut(name) else {
                continue;
            };
            if let Some(Some((q, _))) = topic.subs.get(slot) {
                if Arc::ptr_eq(q, queue) {
                    topic.vacate(slot);
                }
            }
            if topic.count == 0 {
                st.topics.remove(name);
                gone.push(name.clone());
            }
        }
        gone
    }

    pub(crate) fn count(&self, topic: &str) -> usize {
        lock(&self.state).topics.get(topic).map_or(0, |t| t.count)
    }

    pub(crate) fn topic_count(&self) -> usize {
        lock(&self.state).topics.len()
    }

    fn topics(&self) -> Vec<Arc<str>> {
        lock(&self.state).topics.keys().cloned().collect()
    }

    /// A subscription started at `head` of `epoch`: the first contact sets the relay's
    /// starting point.
    pub(crate) fn observe(&self, epoch: u64, head: u64) {
        let mut st = lock(&self.state);
        if st.epoch == 0 && epoch != 0 {
            st.epoch = epoch;
            st.position = head;
        }
    }

    /// Every queue gets a reset at `position` of `epoch`: lost events, or (`new_epoch`) a
    /// new epoch, which subscribers already in it (they started after it) do not need.
    fn reset(topic: &mut Topic, epoch: u64, position: u64, reason: &'static str, new_epoch: bool) {
        for (queue, _) in topic.subs.iter().flatten() {
            let mut q = queue.lock();
            if new_epoch && q.epoch == epoch {
                continue;
            }
            q.reset_in(epoch, position, reason);
            drop(q);
            queue.wake();
        }
    }

    /// Hands one event to the topic's local queues. Returns whether the topic was left
    /// without subscribers (they all lagged behind).
    fn deliver(&self, shared: &Shared, topic: &str, id: EventId, frame: &Bytes) -> bool {
        let mut st = lock(&self.state);
        let seq = id.sequence();
        if st.epoch != id.epoch() {
            // What it delivered of the epoch it leaves stays on record: a server still in
            // that epoch must not hand out those positions again.
            shared.saw(st.epoch, st.position);
            if st.epoch != 0 {
                // Redis lost its data (FLUSHALL, a restart without persistence) while we
                // stayed connected: nothing from before can be vouched for.
                log::warn!(target: "actix_sse", "redis: new epoch; resetting every subscriber");
                for topic in st.topics.values_mut() {
                    Self::reset(topic, id.epoch(), seq.saturating_sub(1), "unknown-id", true);
                }
            }
            st.epoch = id.epoch();
            st.position = seq;
            shared.epoch.store(id.epoch(), SeqCst);
        }
        st.position = st.position.max(seq);
        let Some(t) = st.topics.get_mut(topic) else {
            return false;
        };
        for slot in 0..t.subs.len() {
            let Some((queue, lane)) = &t.subs[slot] else {
                continue;
            };
            if queue.push(*lane, seq, frame, shared.config.limit, || seq, None) == Pushed::Ended {
                t.vacate(slot);
            }
        }
        if t.count == 0 {
            st.topics.remove(topic);
            return true;
        }
        false
    }

    /// Delivers what the history holds after the relay's position. If Redis lost its data
    /// meanwhile, resets every subscriber to the start of the new epoch instead and returns
    /// `true`: the caller then catches up from there.
    fn catch_up(&self, shared: &Shared, topics: &[Arc<str>], start: Start) -> bool {
        let mut st = lock(&self.state);
        let st = &mut *st;
        if start.mode == Mode::Unknown || start.epoch != st.epoch {
            shared.saw(st.epoch, st.position);
            log::warn!(target: "actix_sse", "redis: lost its data; resetting every subscriber");
            for topic in st.topics.values_mut() {
                Self::reset(topic, start.epoch, 0, "unknown-id", true);
            }
            st.epoch = start.epoch;
            st.position = 0;
            shared.epoch.store(start.epoch, SeqCst);
            return true;
        }
        let mut events: Vec<(usize, u64, Bytes)> = Vec::new();
        for (i, (name, replay)) in topics.iter().zip(start.topics).enumerate() {
            match replay {
                None => {
                    if let Some(topic) = st.topics.get_mut(name) {
                        Self::reset(topic, start.epoch, start.head, "trimmed", false);
                    }
                }
                Some(replay) => events.extend(replay.into_iter().map(|(s, f)| (i, s, f))),
            }
        }
        events.sort_unstable_by_key(|e| e.1);
        for (i, seq, frame) in events {
            let Some(topic) = st.topics.get_mut(&topics[i]) else {
                continue;
            };
            for slot in 0..topic.subs.len() {
                let Some((queue, lane)) = &topic.subs[slot] else {
                    continue;
                };
                let pushed = queue.push(*lane, seq, &frame, shared.config.limit, || seq, None);
                if pushed == Pushed::Ended {
                    topic.vacate(slot);
                }
            }
        }
        st.position = st.position.max(start.head);
        false
    }

    /// The epoch and the newest position delivered.
    pub(super) fn mark(&self) -> (u64, u64) {
        let st = lock(&self.state);
        (st.epoch, st.position)
    }
}

/// Starts the relay task; the receiver answers once it is first connected (or could not).
pub(crate) fn spawn(
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> oneshot::Receiver<Result<(), BackendError>> {
    let (ready, connected) = oneshot::channel();
    tokio::spawn(run(shared, commands, ready));
    connected
}

/// Waits `pause` while Redis is away, refusing what asks for it. `false` once the hub is
/// gone.
async fn away(commands: &mut mpsc::UnboundedReceiver<Command>, pause: Duration) -> bool {
    let until = tokio::time::Instant::now() + pause;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => return true,
            command = commands.recv() => match command {
                None => return false,
                Some(Command::Listen(_, done)) => {
                    let _ = done.send(Err(BackendError("not connected".into())));
                }
                Some(Command::Forget(_) | Command::Reconnect) => {}
            },
        }
    }
}

async fn run(
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    ready: oneshot::Sender<Result<(), BackendError>>,
) {
    let mut ready = Some(ready);
    let mut pause = Duration::from_millis(50);
    loop {
        let pubsub = async {
            // The server to listen to: the one address, or the master now.
            shared
                .target
                .client()
                .await?
                .get_async_pubsub()
                .await
                .map_err(BackendError::from)
        };
        let connected = match tokio::time::timeout(CONNECT_TIMEOUT, pubsub).await {
            Ok(connected) => connected,
            Err(_) => Err(BackendError("timed out connecting".into())),
        };
        let pubsub = match connected {
            Ok(pubsub) => pubsub,
            Err(err) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(err));
                    return;
                }
                log::debug!(target: "actix_sse", "redis Pub/Sub: {err}");
                if !away(&mut commands, pause).await {
                    return;
                }
                pause = (pause * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let (mut sink, mut messages) = pubsub.split();
        let topics = shared.relay.topics();
        let mut ok = true;
        if !topics.is_empty() {
            let channels: Vec<String> = topics.iter().map(|t| shared.keys.channel(t)).collect();
            ok = matches!(
                tokio::time::timeout(RESPONSE_TIMEOUT, sink.subscribe(channels)).await,
                Ok(Ok(()))
            );
        }
        // At most twice: from where the relay was, then (if Redis lost its data) from the
        // start of the new epoch.
        for _ in 0..2 {
            let (epoch, position) = shared.relay.mark();
            if !ok || topics.is_empty() || epoch == 0 {
                break;
            }
            match shared
                .start(&topics, Mode::After(position), Some(epoch), true)
                .await
            {
                Ok(start) => {
                    if !shared.relay.catch_up(&shared, &topics, start) {
                        break;
                    }
                }
                Err(err) => {
                    log::debug!(target: "actix_sse", "redis catch-up: {err}");
                    ok = false;
                }
            }
        }
        if !ok {
            if !away(&mut commands, pause).await {
                return;
            }
            pause = (pause * 2).min(MAX_BACKOFF);
            continue;
        }
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        } else {
            log::info!(target: "actix_sse", "redis Pub/Sub: connected again");
        }
        pause = Duration::from_millis(50);
        loop {
            let next = std::future::poll_fn(|cx| Pin::new(&mut messages).poll_next(cx));
            tokio::select! {
                message = next => {
                    let Some(message) = message else { break };
                    let Some(topic) = shared.keys.topic_of(message.get_channel_name()) else {
                        continue;
                    };
                    // "{epoch}-{first} {run}" (see `publish.lua`).
                    let payload = message.get_payload_bytes();
                    let Some(space) = memchr::memchr(b' ', payload) else {
                        continue;
                    };
                    let id = std::str::from_utf8(&payload[..space])
                        .ok()
                        .and_then(|id| id.parse::<EventId>().ok());
                    let Some(id) = id else { continue };
                    let mut emptied = false;
                    for (seq, frame) in frames(id.epoch(), id.sequence(), &payload[space + 1..]) {
                        let id = EventId::new(id.epoch(), seq);
                        emptied |= shared.relay.deliver(&shared, topic, id, &frame);
                    }
                    if emptied {
                        let _ = sink.unsubscribe(shared.keys.channel(topic)).await;
                    }
                }
                command = commands.recv() => match command {
                    None => return,
                    Some(Command::Listen(topics, done)) => {
                        let channels: Vec<String> =
                            topics.iter().map(|t| shared.keys.channel(t)).collect();
                        match tokio::time::timeout(RESPONSE_TIMEOUT, sink.subscribe(channels)).await {
                            Ok(Ok(())) => {
                                let _ = done.send(Ok(()));
                            }
                            Ok(Err(err)) => {
                                let _ = done.send(Err(err.into()));
                                break;
                            }
                            Err(_) => {
                                let _ = done.send(Err(BackendError("timed out".into())));
                                break;
                            }
                        }
                    }
                    Some(Command::Forget(topic)) => {
                        if shared.relay.count(&topic) == 0 {
                            let _ = sink.unsubscribe(shared.keys.channel(&topic)).await;
                        }
                    }
                    Some(Command::Reconnect) => break,
                },
            }
        }
        log::warn!(target: "actix_sse", "redis Pub/Sub: connection lost; reconnecting");
    }
}
