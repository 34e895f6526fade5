//! The Redis backend: topics shared by every instance of an app through one Redis server.
//!
//! Redis holds what must be shared: the hub's epoch and position counter, each topic's
//! history (a stream with an entry per run of events published together, its id the
//! position of the run's last event) and, per topic, a small hash with the newest position
//! published to it, the newest ever removed from its history and how many events that
//! holds.
//!
//! A topic's two keys expire once it has not been published to for the topic expiry
//! (`ChannelsBuilder::topic_ttl`), so idle topics leave nothing behind. What they held is
//! then lost without a record, so the hub also keeps a *clock*: a few positions with the
//! time they were handed out (one every sixteenth of the expiry, none older than two
//! expiries). A position older than the expiry, read from the clock, may have been lost
//! with an expired topic: resuming from it into a topic with no keys, or into a topic
//! created afresh, gives a reset; newer positions resume exactly.
//!
//! **Ids never name the wrong event.** An id is `{epoch}-{position}`. The epoch and the
//! counter are one hash, so Redis loses (deletes, evicts under `maxmemory`) both or neither:
//! a counter that starts again starts in a new epoch, and every id from before is unknown
//! (a reset), never a position in the new one. A topic's history records its epoch; a
//! history of an earlier epoch is dropped at the topic's next publish and never replayed,
//! so publishing to existing topics goes on at once. A counter can also go *back* within
//! its epoch, when Redis loses writes it acknowledged (a failover to a replica that was
//! behind, or back to a server still in an epoch since left; a crash with `appendfsync
//! everysec`): every instance remembers the newest position it has seen (published,
//! relayed, read as the head) in each of the last epochs it saw, and the publish script,
//! handed those, moves to a new epoch when the counter gives one out again; a relay
//! that reconnects (a failover drops every connection) and finds the counter behind what it
//! delivered moves the hub to a new epoch at once. So ids handed out after such a loss
//! never equal one an instance saw before it, subscribers get a reset, and a client holding
//! a lost position resets (a position beyond the head is unknown, and once the new epoch
//! begins, an old id is). A client's own `Last-Event-ID` never moves the epoch (it could be
//! forged). What no running instance saw (every instance restarted after the loss) is not
//! detected; a replica acknowledging each write (`ChannelsBuilder::replicas`, Redis'
//! `WAIT`) closes that gap.
//!
//! One Lua script publishes (next position, append, trim,
//! `PUBLISH` to the topic's Pub/Sub channel), so history and live delivery cannot diverge;
//! another reads where a subscription starts. An instance's publishes go through one task
//! ([`publish`]): those that wait while a call is on its way go together in the next one,
//! which is what makes a publish cheap for Redis under load.
//!
//! Each instance keeps one Pub/Sub connection (the [`relay`]) that receives a topic's events
//! once and hands them to the local subscribers' queues, and one multiplexed connection
//! for the scripts. A subscription registers its queue first, makes sure the relay listens
//! to its topics, then reads the history: whatever is published after that read arrives
//! live, whatever before is in it, and positions already delivered are skipped.
//!
//! When the Pub/Sub connection drops (Redis restarted or unreachable), the relay reconnects
//! with a growing pause, then reads from the history every event its subscribers missed
//! meanwhile and delivers it, in order; streams stay open (with their heartbeats) and go
//! on where they were. Events that are gone by then (Redis lost its data, or the history
//! was trimmed past them) give those subscribers a reset event.

mod publish;
mod relay;
mod target;

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering::SeqCst},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use redis::aio::MultiplexedConnection;

use super::{
    id::{new_epoch, EventId},
    queue::{Limit, Queue},
    ChannelEvent, PublishError, ResumeFrom,
};

use relay::Relay;

/// How long one command to Redis may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How many epochs an instance remembers the newest position of (see [`Shared::seen`]).
const SEEN_EPOCHS: usize = 8;
/// The longest pause between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

const PUBLISH: &str = include_str!("publish.lua");
const RESUME: &str = include_str!("resume.lua");

/// Settings of a Redis hub, from the builder.
pub(crate) struct Config {
    pub(crate) prefix: String,
    pub(crate) history_events: usize,
    pub(crate) history_age: Option<Duration>,
    /// How long a topic's keys outlive its last publish.
    pub(crate) topic_ttl: Duration,
    /// Replicas that must hold a publish before it is acknowledged, and how long to wait.
    pub(crate) replicas: Option<(usize, Duration)>,
    pub(crate) limit: Limit,
    pub(crate) reset_event: String,
    pub(crate) replay_last: usize,
}

/// Redis could not be reached, or refused a command.
// The module is gated already; gated again here so that the feature shows where the
// facade re-exports it (a dependency is compiled without `docsrs`).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Debug, Clone)]
pub struct BackendError(String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis: {}", self.0)
    }
}

impl std::error::Error for BackendError {}

impl From<redis::RedisError> for BackendError {
    fn from(err: redis::RedisError) -> Self {
        BackendError(err.to_string())
    }
}

/// Names of the keys of one hub.
struct Keys {
    /// The hub's epoch and position counter, in one hash: lost together or not at all.
    hub: String,
    clock: String,
    prefix: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            hub: format!("{prefix}:hub"),
            clock: format!("{prefix}:clock"),
            prefix: prefix.to_owned(),
        }
    }

    /// A topic's history: a stream of runs of events (see `publish.lua`).
    fn history(&self, topic: &str) -> String {
        format!("{}:history:{topic}", self.prefix)
    }

    /// A topic's record: a hash of what its history lost and holds.
    fn record(&self, topic: &str) -> String {
        format!("{}:topic:{topic}", self.prefix)
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}:live:{topic}", self.prefix)
    }

    /// The topic a Pub/Sub channel name belongs to.
    fn topic_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":live:")
    }
}

/// What a hub shares with its relay task.
pub(crate) struct Shared {
    target: target::Target,
    keys: Keys,
    config: Config,
    /// The epoch last seen in Redis (0 before the first contact).
    epoch: AtomicU64,
    /// The newest position this instance has published, read as a head, or seen its relay
    /// leave behind, in each of the last epochs it saw; with the relay's newest delivered
    /// ([`Shared::seen`]), what Redis must never hand out again.
    seen: std::sync::Mutex<Vec<(u64, u64)>>,
    /// The command connection, made again after a failure.
    /// With the number of failovers announced when it was made (see `switches`).
    conn: tokio::sync::Mutex<Option<(MultiplexedConnection, u64)>>,
    /// Failovers the sentinels announced: a connection made before the last one is to the
    /// old master, and is made again.
    switches: AtomicU64,
    relay: Relay,
    publish: redis::Script,
    resume: redis::Script,
}

pub(crate) struct Hub {
    shared: Arc<Shared>,
    /// Closing it (when the last handle to the hub is gone) stops the relay task.
    commands: tokio::sync::mpsc::UnboundedSender<relay::Command>,
    /// To the publishing task (see [`publish`]); it stops with the hub too.
    publishes: tokio::sync::mpsc::Sender<publish::Job>,
    /// Dropped with the hub: stops the task that listens for Sentinel failovers.
    _watching: tokio::sync::oneshot::Sender<()>,
}

/// Where the history says a subscription starts.
struct Start {
    epoch: u64,
    head: u64,
    mode: Mode,
    /// Per topic: `None` if events after the position were trimmed away, else the events
    /// to replay, oldest first.
    topics: Vec<Option<Vec<(u64, Bytes)>>>,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Mode {
    Live,
    After(u64),
    Unknown,
}

/// A new random epoch as Redis stores it (the `{epoch}` part of an id).
fn fresh_epoch() -> String {
    epoch_text(new_epoch())
}

fn epoch_text(epoch: u64) -> String {
    let id = EventId::new(epoch, 0).to_string();
    id.strip_suffix("-0").unwrap_or(&id).to_owned()
}

/// The epoch in a frame's `id:` line (frames from Redis always have one).
fn frame_epoch(frame: &[u8]) -> Option<&[u8]> {
    let id = frame
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"id: "))?;
    let dash = id.iter().rposition(|&b| b == b'-')?;
    Some(&id[..dash])
}

/// The frames of a run of events (their bodies joined by `\r`, see `publish.lua`), the
/// first at position `first` of `epoch`: each body with its id line and blank line, as
/// slices of one buffer.
fn frames(epoch: u64, first: u64, run: &[u8]) -> Vec<(u64, Bytes)> {
    use std::fmt::Write;
    let count = memchr::memchr_iter(b'\r', run).count() + 1;
    // "id: " + epoch (at most 13) + "-" + position (at most 20) + "\n\n"
    let mut buf = BytesMut::with_capacity(run.len() + count * 40);
    let mut ends = Vec::with_capacity(count);
    for (body, seq) in run.split(|&b| b == b'\r').zip(first..) {
        buf.extend_from_slice(body);
        let _ = write!(buf, "id: {}\n\n", EventId::new(epoch, seq));
        ends.push((seq, buf.len()));
    }
    let buf = buf.freeze();
    let mut start = 0;
    ends.into_iter()
        .map(|(seq, end)| {
            let frame = buf.slice(start..end);
            start = end;
            (seq, frame)
        })
        .collect()
}

fn parse_epoch(text: &str) -> Option<u64> {
    format!("{text}-0")
        .parse::<EventId>()
        .ok()
        .map(|id| id.epoch())
}

/// With Sentinel, starts the task that listens for failovers (see [`target`]): at each, the
/// command connection and the relay's Pub/Sub connection are made again, to the new master.
/// The task stops when the returned sender is dropped.
fn watch(
    shared: &Arc<Shared>,
    commands: &tokio::sync::mpsc::UnboundedSender<relay::Command>,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    if matches!(shared.target, target::Target::Sentinel { .. }) {
        let (shared, commands) = (shared.clone(), commands.downgrade());
        tokio::spawn(async move {
            let switched = || {
                shared.switches.fetch_add(1, SeqCst);
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(relay::Command::Reconnect);
                }
            };
            tokio::select! {
                _ = stopped => {}
                () = shared.target.watch(switched) => {}
            }
        });
    }
    stop
}

impl Hub {
    /// Connects to Redis at `url` and starts the relay.
    pub(crate) async fn connect(url: &str, config: Config) -> Result<Self, BackendError> {
        let shared = Arc::new(Shared {
            target: target::Target::parse(url)?,
            keys: Keys::new(&config.prefix),
            config,
            epoch: AtomicU64::new(0),
            seen: std::sync::Mutex::new(Vec::with_capacity(SEEN_EPOCHS)),
            conn: tokio::sync::Mutex::new(None),
            switches: AtomicU64::new(0),
            relay: Relay::default(),
            publish: redis::Script::new(PUBLISH),
            resume: redis::Script::new(RESUME),
        });
        // Fail at start-up rather than at the first publish.
        shared.connection().await?;
        let (commands, receiver) = tokio::sync::mpsc::unbounded_channel();
        let connected = relay::spawn(shared.clone(), receiver);
        // The relay is listening before the hub is handed out.
        connected
            .await
            .map_err(|_| BackendError("relay stopped".into()))??;
        let publishes = publish::spawn(shared.clone());
        let _watching = watch(&shared, &commands);
        Ok(Self {
            shared,
            commands,
            publishes,
            _watching,
        })
    }

    /// Publishes `event` (encoded, without an id) to `topic`, in the next call of the
    /// publish script.
    pub(crate) async fn publish(&self, topic: &str, event: Bytes) -> Result<EventId, PublishError> {
        let stopped = || PublishError::Backend(BackendError("the publishing task stopped".into()));
        let (job, answer) = publish::Job::new(topic, event);
        self.publishes.send(job).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(PublishError::Backend)
    }

    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        names: &[&str],
        from: ResumeFrom<'_>,
    ) -> RedisSubscription {
        let mode = match (from, from.id()) {
            (ResumeFrom::Unreadable, _) => Mode::Unknown,
            (_, None) => Mode::Live,
            (_, Some(text)) => match text.parse::<EventId>() {
                Ok(id) => Mode::After(id.sequence()),
                Err(_) => Mode::Unknown,
            },
        };
        let client_epoch = from
            .id()
            .and_then(|text| text.parse::<EventId>().ok())
            .map(|id| id.epoch());
        let topics: Vec<Arc<str>> = names.iter().map(|&n| n.into()).collect();
        let queue = Arc::new(Queue::new(names.len()));
        let slots = self.shared.relay.register(&topics, &queue);
        let mut sub = RedisSubscription {
            hub: self.clone(),
            queue,
            topics,
            slots,
            last: 0,
            pending: None,
            done: false,
        };
        if sub.topics.is_empty() {
            return sub;
        }
        let request = Request {
            shared: self.shared.clone(),
            commands: self.commands.clone(),
            topics: sub.topics.clone(),
            mode,
            client_epoch,
        };
        match request.clone().attempt().await {
            Ok(start) => sub.apply(start),
            // Redis is away: the subscription waits for it (the stream stays open).
            Err(err) => {
                log::warn!(target: "actix_sse", "subscribe: {err}; retrying");
                sub.pending = Some(std::sync::Mutex::new(Box::pin(request.retry())));
            }
        }
        sub
    }

    pub(crate) fn subscriber_count(&self, topic: &str) -> usize {
        self.shared.relay.count(topic)
    }

    pub(crate) fn topic_count(&self) -> usize {
        self.shared.relay.topic_count()
    }
}

impl Shared {
    /// The topic expiry, in milliseconds, for the scripts.
    fn ttl_ms(&self) -> u64 {
        // At most 100 years: Lua holds numbers as doubles, and `PEXPIRE` wants an integer.
        const MAX: u128 = 100 * 365 * 24 * 3600 * 1000;
        self.config.topic_ttl.as_millis().clamp(1, MAX) as u64
    }

    /// The command connection, connecting if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, BackendError> {
        let mut slot = self.conn.lock().await;
        let switches = self.switches.load(SeqCst);
        match &*slot {
            Some((conn, made)) if *made == switches => return Ok(conn.clone()),
            _ => {}
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let conn = self
            .target
            .client()
            .await?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some((conn.clone(), switches));
        Ok(conn)
    }

    /// Forgets the command connection after an error that may have broken it. Returns
    /// whether Redis could not be reached (rather than refused the command).
    async fn failed(&self, err: &redis::RedisError) -> bool {
        let unreachable = err.is_io_error()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_connection_refusal();
        // A server that answers `READONLY` was demoted (a failover): the next command
        // asks the sentinels for the new master.
        if unreachable || err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) {
            *self.conn.lock().await = None;
        }
        unreachable
    }

    /// The newest position this instance has seen handed out (published, relayed, read
    /// as a head) in each of the last epochs it saw, for the scripts: `"{epoch} {position}"`
    /// pairs, space-separated, in the order the epochs were first seen: the newest, last,
    /// is the one the instance is in. If Redis is in one of the
    /// others (a failover back to a server still in an epoch since left), or hands out
    /// a position seen in the current one again (Redis lost writes it had acknowledged), the
    /// scripts move to a new epoch instead.
    fn seen(&self) -> String {
        // The relay's lock is taken and released before ours: the relay takes ours while
        // holding its own (`saw`).
        let relayed = self.relay.mark();
        let mut pairs = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if relayed.0 != 0 {
            match pairs.iter_mut().find(|(e, _)| *e == relayed.0) {
                Some((_, seq)) => *seq = (*seq).max(relayed.1),
                None => pairs.push(relayed),
            }
        }
        let mut text = String::new();
        for (epoch, seq) in pairs {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&format!("{} {seq}", epoch_text(epoch)));
        }
        text
    }

    /// `seq` of `epoch` was handed out: the newest position seen in that epoch, if it is
    /// newer. The last [`SEEN_EPOCHS`] epochs first seen are remembered, in that order (an
    /// epoch seen again keeps its place: a server still in it is behind).
    fn saw(&self, epoch: u64, seq: u64) {
        if epoch == 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.iter_mut().find(|(e, _)| *e == epoch) {
            Some((_, newest)) => *newest = (*newest).max(seq),
            None => {
                if seen.len() == SEEN_EPOCHS {
                    seen.remove(0);
                }
                seen.push((epoch, seq));
            }
        }
    }

    /// Reads where a subscription to `topics` starts (see `resume.lua`).
    /// `relay`: the relay catching up from the newest position it delivered (which, if
    /// the counter is behind it, moves the hub to a new epoch; a client's id never does).
    async fn start(
        &self,
        topics: &[Arc<str>],
        mode: Mode,
        client_epoch: Option<u64>,
        relay: bool,
    ) -> Result<Start, BackendError> {
        let mut conn = self.connection().await?;
        let (epoch_arg, after) = match (mode, client_epoch) {
            (Mode::After(seq), Some(epoch)) => (epoch_text(epoch), seq),
            (Mode::Live, _) => (String::new(), 0),
            // Unknown: an epoch no Redis has.
            _ => ("-".to_owned(), 0),
        };
        let age = self
            .config
            .history_age
            .map_or(0, |a| a.as_millis().max(1) as u64);
        let mut invocation = self.resume.prepare_invoke();
        invocation.key(&self.keys.hub).key(&self.keys.clock);
        for topic in topics {
            invocation
                .key(self.keys.history(topic))
                .key(self.keys.record(topic));
        }
        invocation
            .arg(epoch_arg)
            .arg(after)
            .arg(self.config.replay_last)
            .arg(age)
            .arg(fresh_epoch())
            .arg(self.ttl_ms())
            .arg(if relay { "1" } else { "0" })
            .arg(if relay { self.seen() } else { String::new() });
        let reply: Result<redis::Value, _> = invocation.invoke_async(&mut conn).await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => {
                self.failed(&err).await;
                return Err(err.into());
            }
        };
        let start = parse_start(reply, topics.len(), after)
            .ok_or_else(|| BackendError("unexpected reply from the resume script".into()))?;
        if start.epoch != 0 {
            self.epoch.store(start.epoch, SeqCst);
            self.saw(start.epoch, start.head);
        }
        Ok(start)
    }
}

/// The reply of `resume.lua`; only events after `after` of the runs it holds are kept.
fn parse_start(reply: redis::Value, topics: usize, after: u64) -> Option<Start> {
    use redis::Value;
    let Value::Array(items) = reply else {
        return None;
    };
    let mut items = items.into_iter();
    let text = |v: Value| -> Option<String> {
        match v {
            Value::BulkString(b) => String::from_utf8(b).ok(),
            Value::SimpleString(s) => Some(s),
            _ => None,
        }
    };
    let int = |v: Value| -> Option<u64> {
        match v {
            Value::Int(n) => u64::try_from(n).ok(),
            other => text(other)?.parse().ok(),
        }
    };
    let epoch_text = text(items.next()?)?;
    let epoch = if epoch_text.is_empty() {
        0
    } else {
        parse_epoch(&epoch_text)?
    };
    let head = int(items.next()?)?;
    let mode = match text(items.next()?)?.as_str() {
        "live" => Mode::Live,
        "unknown" => Mode::Unknown,
        _ => Mode::After(0),
    };
    let mut per_topic = Vec::with_capacity(topics);
    for item in items {
        let Value::Array(list) = item else {
            return None;
        };
        let mut list = list.into_iter();
        if int(list.next()?)? == 1 {
            per_topic.push(None);
            continue;
        }
        let mut events = Vec::new();
        while let Some(first) = list.next() {
            let first = int(first)?;
            let Value::BulkString(run) = list.next()? else {
                return None;
            };
            let run = frames(epoch, first, &run);
            events.extend(run.into_iter().filter(|(seq, _)| *seq > after));
        }
        events.sort_unstable_by_key(|e| e.0);
        per_topic.push(Some(events));
    }
    (per_topic.len() == topics).then_some(Start {
        epoch,
        head,
        mode,
        topics: per_topic,
    })
}

/// One attempt at starting a subscription, and how to retry it.
#[derive(Clone)]
struct Request {
    shared: Arc<Shared>,
    commands: tokio::sync::mpsc::UnboundedSender<relay::Command>,
    topics: Vec<Arc<str>>,
    mode: Mode,
    client_epoch: Option<u64>,
}

impl Request {
    /// Makes sure the relay listens to the topics, then reads the history: an event
    /// published after that read reaches the queue live.
    async fn attempt(self) -> Result<Start, BackendError> {
        let (done, listening) = tokio::sync::oneshot::channel();
        self.commands
            .send(relay::Command::Listen(self.topics.clone(), done))
            .map_err(|_| BackendError("relay stopped".into()))?;
        listening
            .await
            .map_err(|_| BackendError("relay stopped".into()))??;
        self.shared
            .start(&self.topics, self.mode, self.client_epoch, false)
            .await
    }

    async fn retry(self) -> Start {
        let mut pause = Duration::from_millis(50);
        loop {
            tokio::time::sleep(pause).await;
            match self.clone().attempt().await {
                Ok(start) => return start,
                Err(err) => log::debug!(target: "actix_sse", "subscribe: {err}; retrying"),
            }
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
}

/// In a mutex only to keep `Subscription` `Sync`; it is polled through `&mut`.
type Pending = std::sync::Mutex<Pin<Box<dyn Future<Output = Start> + Send>>>;

/// The Redis backend's side of a `Subscription`.
pub(crate) struct RedisSubscription {
    hub: Arc<Hub>,
    queue: Arc<Queue>,
    topics: Vec<Arc<str>>,
    slots: Vec<usize>,
    /// The newest position handed out: anything at or below it is a duplicate.
    last: u64,
    /// Still waiting for Redis to tell where to start.
    pending: Option<Pending>,
    done: bool,
}

impl RedisSubscription {
    /// Puts the replay in front of what arrived live meanwhile, or a reset.
    fn apply(&mut self, start: Start) {
        let shared = &self.hub.shared;
        shared.relay.observe(start.epoch, start.head);
        let mut q = self.queue.lock();
        if q.reset.is_some() {
            if q.reset_epoch != start.epoch {
                // The relay saw another epoch meanwhile: its reset, and what it queued
                // after it, stand.
                drop(q);
                self.queue.wake();
                return;
            }
            // For this very epoch it tells nothing the start does not.
            q.reset = None;
            q.skip_upto = 0;
        }
        q.epoch = start.epoch;
        // What the relay queued meanwhile: only events after the start, of its epoch.
        let epoch = epoch_text(start.epoch);
        let head = start.head;
        q.keep_live(|seq, frame| seq > head && frame_epoch(frame) == Some(epoch.as_bytes()));
        let trimmed = start.topics.iter().any(Option::is_none);
        match start.mode {
            Mode::Unknown => q.reset_before_live(start.epoch, head, "unknown-id"),
            Mode::After(_) if trimmed => q.reset_before_live(start.epoch, head, "trimmed"),
            Mode::After(_) | Mode::Live => {
                let mut replay: Vec<(usize, u64, Bytes)> = start
                    .topics
                    .into_iter()
                    .enumerate()
                    .flat_map(|(lane, events)| {
                        events
                            .unwrap_or_default()
                            .into_iter()
                            .map(move |(seq, frame)| (lane, seq, frame))
                    })
                    .collect();
                if start.mode == Mode::Live && replay.len() > shared.config.replay_last {
                    replay.sort_unstable_by_key(|e| e.1);
                    replay.drain(..replay.len() - shared.config.replay_last);
                }
                q.seam(start.head, replay);
            }
        }
        drop(q);
        self.queue.wake();
    }

    pub(crate) fn lagged(&self) -> bool {
        self.queue.lock().lagged
    }

    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<ChannelEvent>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(pending) = &mut self.pending {
            let pending = pending.get_mut().unwrap_or_else(|p| p.into_inner());
            match pending.as_mut().poll(cx) {
                Poll::Ready(start) => {
                    self.pending = None;
                    self.apply(start);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        let shared = &self.hub.shared;
        loop {
            let mut st = self.queue.lock();
            if let Some((position, reason)) = st.reset.take() {
                let epoch = match std::mem::take(&mut st.reset_epoch) {
                    0 => shared.epoch.load(SeqCst),
                    epoch => epoch,
                };
                drop(st);
                // Positions start again from the reset (after a Redis restart, lower).
                self.last = position;
                let topic = self.topics.first().cloned().unwrap_or_else(|| "".into());
                return Poll::Ready(Some(ChannelEvent::reset(
                    topic,
                    EventId::new(epoch, position),
                    &shared.config.reset_event,
                    reason,
                )));
            }
            if st.closed || self.topics.is_empty() {
                drop(st);
                self.done = true;
                return Poll::Ready(None);
            }
            let Some((lane, _)) = st.next() else {
                st.park(cx.waker());
                return Poll::Pending;
            };
            let Some((seq, frame)) = st.pop(lane) else {
                continue;
            };
            if seq <= st.skip_upto || seq <= self.last {
                continue;
            }
            drop(st);
            self.last = seq;
            return Poll::Ready(Some(ChannelEvent::new(
                self.topics[lane].clone(),
                EventId::new(shared.epoch.load(SeqCst), seq),
                frame,
            )));
        }
    }
}

impl Drop for RedisSubscription {
    fn drop(&mut self) {
        let gone = self
            .hub
            .shared
            .relay
            .unregister(&self.topics, &self.slots, &self.queue);
        for topic in gone {
            let _ = self.hub.commands.send(relay::Command::Forget(topic));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_bodies_becomes_frames_with_their_ids() {
        let epoch = new_epoch();
        let id = |seq| EventId::new(epoch, seq);
        let got = frames(epoch, 7, b"data: x\n\r\r: note\nevent: e\ndata: y\n");
        let want = [
            (7, format!("data: x\nid: {}\n\n", id(7))),
            (8, format!("id: {}\n\n", id(8))),
            (9, format!(": note\nevent: e\ndata: y\nid: {}\n\n", id(9))),
        ];
        let got: Vec<(u64, String)> = got
            .into_iter()
            .map(|(seq, frame)| (seq, String::from_utf8(frame.to_vec()).unwrap()))
            .collect();
        assert_eq!(got, want);
    }
}
