//! Channels: publish events to named topics, subscribe from any handler, resume exactly.
//!
//! [`Channels`] is a hub that lives in `web::Data` and is shared by every worker thread.
//! [`publish`](Channels::publish) gives each event an [`EventId`] and encodes it once; the
//! same bytes go to the topic's history and to every subscriber.
//! [`subscribe`](Channels::subscribe) replays what a reconnecting client missed (from its
//! `Last-Event-ID`), then goes live, with no gap and no duplicate in between. When the
//! missed events are gone (the id is from another hub or a restart, or too old for the
//! history), the subscriber first gets one *reset* event instead: nothing is ever skipped
//! silently.
//!
//! The default hub is in-process: it needs no server and keeps everything in memory,
//! bounded per topic ([`ChannelsBuilder`]). With the `redis` feature,
//! `Channels::redis(url)` gives the same API over Redis, shared by every instance of an
//! app, so a client resumes on whichever instance it reconnects to.
//!
//! ```
//! use actix_sse::{Channels, Event};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let channels = Channels::new();
//! let mut live = channels.subscribe("room-1", None).await;
//!
//! let first = channels.publish("room-1", "hello").await.unwrap();
//! channels.publish("room-1", Event::data("hi").event("chat")).await.unwrap();
//!
//! let ev = live.next().await.unwrap();
//! assert_eq!((ev.data().as_ref(), ev.id()), ("hello", &first));
//!
//! // A client that reconnects with `Last-Event-ID: <first>` gets the rest, then live events.
//! let mut resumed = channels.subscribe("room-1", &first.to_string()).await;
//! let ev = resumed.next().await.unwrap();
//! assert_eq!((ev.data().as_ref(), ev.event_type()), ("hi", Some("chat")));
//! # }
//! ```

mod budget;
mod history;
mod id;
mod memory;
mod queue;
#[cfg(feature = "redis")]
mod redis;
mod resume;
mod subscription;

use std::{
    error::Error as StdError,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use bytes::BufMut;

pub use id::{EventId, InvalidEventId};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::BackendError;
pub use resume::{IntoResumeFrom, ResumeFrom};
pub use subscription::{ChannelEvent, Subscription};

use crate::{Event, IntoEvent, InvalidEvent, SerializeError, Serializer};

/// A lock that shrugs off poisoning: every critical section here leaves its state
/// consistent before it can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// What happens to a subscriber whose queue is full because it is not read fast enough.
///
/// Publishers never wait for subscribers; a slow one is dealt with on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lag {
    /// The subscription ends at once (its stream yields `None`), dropping what it had
    /// queued. The client reconnects with its `Last-Event-ID` and resumes from history,
    /// so nothing is lost as long as the history still covers it.
    #[default]
    End,
    /// What was queued is dropped; the next item is a reset event (reason `lagged`), then
    /// live events follow.
    Reset,
}

/// Why [`Channels::publish`] refused an event. Nothing was stored and no id was used.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// The event could not be written safely: its `event` name contains CR or LF.
    Invalid(InvalidEvent),
    /// The serializer failed on the value.
    Serialize(SerializeError),
    /// The backend did not take the event (Redis unreachable, or it refused the command):
    /// it may not have been stored, and no subscriber was told about it.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Backend(BackendError),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Invalid(err) => write!(f, "cannot publish: {err}"),
            PublishError::Serialize(err) => write!(f, "cannot publish: {err}"),
            #[cfg(feature = "redis")]
            PublishError::Backend(err) => write!(f, "cannot publish: {err}"),
        }
    }
}

impl StdError for PublishError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PublishError::Invalid(err) => Some(err),
            PublishError::Serialize(err) => Some(err),
            #[cfg(feature = "redis")]
            PublishError::Backend(err) => Some(err),
        }
    }
}

impl From<InvalidEvent> for PublishError {
    fn from(err: InvalidEvent) -> Self {
        PublishError::Invalid(err)
    }
}

impl From<SerializeError> for PublishError {
    fn from(err: SerializeError) -> Self {
        PublishError::Serialize(err)
    }
}

/// A hub of topics that handlers publish to and subscribe to.
///
/// Cheap to clone (one `Arc`), `Send + Sync`: create one, put it in `web::Data`, and use it
/// from every worker and any task. Topics are plain strings, created when first used; a
/// topic with no subscriber and no history left takes no memory.
///
/// # Ids and resuming
///
/// Every published event gets an [`EventId`] from the hub, written in its `id:` line, and a
/// client sends the last one back as `Last-Event-ID` when it reconnects. Ids grow across
/// the whole hub, so one id is a valid position in every topic: a subscription to several
/// topics resumes from it too.
///
/// # History
///
/// Each topic keeps its latest events, bounded by count, bytes and optionally age (see
/// [`ChannelsBuilder`]). All topics together stay within one memory budget (64 MiB by
/// default): past it, the histories of the topics published to least recently are
/// dropped, and a client resuming into them gets a reset event. Age is trimmed lazily,
/// when the topic is published to or subscribed to; with an age bound, call
/// [`sweep`](Self::sweep) now and then to also free the topics nobody touches any more
/// before the budget does.
///
/// # Bounds
///
/// | what | default | set with |
/// |---|---|---|
/// | history per topic | 1,000 events, 1 MiB, no age | [`history_events`](ChannelsBuilder::history_events), [`history_bytes`](ChannelsBuilder::history_bytes), [`history_age`](ChannelsBuilder::history_age) |
/// | queue per subscriber | 1,024 events, 256 KiB | [`queue`](ChannelsBuilder::queue), [`queue_bytes`](ChannelsBuilder::queue_bytes), [`on_lag`](ChannelsBuilder::on_lag) |
/// | all topics (in-process) | 64 MiB | [`memory_budget`](ChannelsBuilder::memory_budget) |
///
/// Whatever bound is reached, a subscriber never misses an event without being told: it
/// gets a reset event, or (with [`Lag::End`]) its subscription ends so that its client
/// reconnects and resumes.
///
/// In memory, a topic packs its events one after another into chunks of up to about
/// 4 KiB, so a kept event costs its encoded bytes plus 16 bytes, and a replay hands out
/// slices of the chunks instead of copies. A subscriber that still holds an event keeps
/// that event's chunk alive.
///
/// A resuming subscriber does not copy what it missed: it reads it from the history a few
/// events at a time as its client takes them, so a reconnect storm costs about what the
/// clients' connections cost, whatever they missed. If newer events push what it has not
/// read yet out of the history first, it gets a reset event (`trimmed`), as if it had
/// reconnected that late.
///
/// # Example: a chat room
///
/// ```
/// use actix_sse::{Channels, LastEventId};
/// use actix_web::{web, HttpResponse, Responder};
///
/// async fn events(
///     room: web::Path<String>,
///     channels: web::Data<Channels>,
///     last: LastEventId,
/// ) -> impl Responder {
///     let feed = channels.subscribe(&room, &last).await;
///     # let _ = feed;
///     // Stream `feed` to the client.
///     HttpResponse::Ok()
/// }
///
/// async fn post(room: web::Path<String>, channels: web::Data<Channels>, body: String) -> impl Responder {
///     match channels.publish(&room, body).await {
///         Ok(id) => HttpResponse::Ok().body(id.to_string()),
///         Err(err) => HttpResponse::BadRequest().body(err.to_string()),
///     }
/// }
/// # let _ = (events, post);
/// ```
#[derive(Clone)]
pub struct Channels {
    backend: Backend,
}

/// Where events live. Every backend offers the same behaviour; `Channels` only forwards.
#[derive(Clone)]
enum Backend {
    Memory(Arc<memory::Hub>),
    #[cfg(feature = "redis")]
    Redis(Arc<redis::Hub>),
}

impl Default for Channels {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.backend {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("Channels")
            .field("backend", &backend)
            .field("topics", &self.topic_count())
            .finish()
    }
}

impl Channels {
    /// An in-process hub with the default settings (see [`ChannelsBuilder`]).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Settings for a hub: history bounds, per-subscriber queue, what to do on lag.
    pub fn builder() -> ChannelsBuilder {
        ChannelsBuilder::default()
    }

    /// A hub on Redis at `url` with the default settings: see
    /// [`ChannelsBuilder::connect_redis`].
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), actix_sse::BackendError> {
    /// let channels = actix_sse::Channels::redis("redis://127.0.0.1:6379/").await?;
    /// # drop(channels);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// If the URL is invalid or Redis cannot be reached now.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn redis(url: &str) -> Result<Self, BackendError> {
        Self::builder().connect_redis(url).await
    }

    /// Publishes an event to `topic` and returns the id it was given.
    ///
    /// Accepts an [`Event`] or a string (the event's data). The hub sets the event's id
    /// itself: an id set on the event is replaced. The event is encoded once; subscribers
    /// and the history share those bytes. Publishing never waits for a subscriber: one
    /// that cannot keep up is handled by [`Lag`]. With the in-process hub the returned
    /// future is ready at once.
    ///
    /// # Errors
    ///
    /// [`PublishError::Invalid`] if the event's `event` name contains CR or LF. Nothing is
    /// stored and no id is used up.
    pub async fn publish(
        &self,
        topic: &str,
        event: impl IntoEvent,
    ) -> Result<EventId, PublishError> {
        // Replace the caller's id before checking, so only what is sent is checked.
        let mut event = event.into_event();
        event.id = None;
        event.validate()?;
        match &self.backend {
            Backend::Memory(hub) => Ok(hub.publish(topic, |id, buf| {
                // Validated above; setting our id cannot make it invalid.
                let _ = event.id(id).encode(buf);
            })),
            #[cfg(feature = "redis")]
            Backend::Redis(hub) => {
                let mut buf = bytes::BytesMut::new();
                let _ = event.encode(&mut buf);
                hub.publish(topic, buf.freeze()).await
            }
        }
    }

    /// Publishes `value` as the data of an event, written by `serializer` (for example
    /// [`Json`](crate::Json), or any `fn(&T) -> String`).
    ///
    /// `fields` sets the other fields (`event`, `retry`, a comment); its data and its id are
    /// ignored, the hub sets the id. Serializing happens before the topic is touched.
    ///
    /// ```
    /// use actix_sse::{Channels, Event, Json};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let channels = Channels::new();
    /// let id = channels
    ///     .publish_serialized("prices", &[100, 200], &Json, Event::new().event("price"))
    ///     .await
    ///     .unwrap();
    /// # let _ = id; }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PublishError::Serialize`] if the serializer fails, [`PublishError::Invalid`] if the
    /// `event` name contains CR or LF. Nothing is stored and no id is used up.
    pub async fn publish_serialized<T, S>(
        &self,
        topic: &str,
        value: &T,
        serializer: &S,
        fields: Event,
    ) -> Result<EventId, PublishError>
    where
        T: ?Sized,
        S: Serializer<T> + ?Sized,
    {
        // Only the fields: the hub sets the id, the serializer the data.
        let mut head = Event::new();
        head.comment = fields.comment;
        head.event = fields.event;
        head.retry = fields.retry;
        head.validate()?;
        let mut data = bytes::BytesMut::new();
        crate::serialize::write_data(serializer, value, &mut data)?;
        match &self.backend {
            Backend::Memory(hub) => Ok(hub.publish(topic, |id, buf| {
                head.id = Some(id.to_string());
                crate::encode::fields(buf, &head);
                buf.extend_from_slice(&data);
                buf.put_u8(b'\n');
            })),
            #[cfg(feature = "redis")]
            Backend::Redis(hub) => {
                let mut buf = bytes::BytesMut::new();
                crate::encode::fields(&mut buf, &head);
                buf.extend_from_slice(&data);
                buf.put_u8(b'\n');
                hub.publish(topic, buf.freeze()).await
            }
        }
    }

    /// Subscribes to one topic.
    ///
    /// `last_event_id` is the client's `Last-Event-ID`: the extractor itself (`&last`, a
    /// [`LastEventId`](crate::LastEventId)), an id (`"…"`, `Some("…")`) or `None` (see
    /// [`ResumeFrom`]). No id (or an empty one) means "from now on" (or the last few
    /// events, see [`ChannelsBuilder::replay_last`]). With an id this hub gave, the
    /// subscription first yields every event published after it that the history still
    /// holds, then live events: each exactly once, in order. If the id is unknown (garbage,
    /// another hub's, from before a restart, longer than 1 KiB), unreadable, or older than
    /// the history, it first yields one reset event, then live events. The missed events
    /// are read from the history as they are taken: if the history drops some of them
    /// before that (newer events trimmed them), a reset event comes in their place.
    pub async fn subscribe<'a>(
        &self,
        topic: &str,
        last_event_id: impl IntoResumeFrom<'a>,
    ) -> Subscription {
        self.subscribe_many(&[topic], last_event_id).await
    }

    /// Subscribes to several topics at once, as one stream in id order.
    ///
    /// Resuming works as for [`subscribe`](Self::subscribe): ids are positions in the whole
    /// hub, so the client's single `Last-Event-ID` covers every topic. A reset is sent if
    /// any of the topics lost events after it. Repeated topics count once; with no topic
    /// at all, the stream ends at once. Setting up costs O(n) in the number of topics, and
    /// each event received O(log n).
    pub async fn subscribe_many<'a, S: AsRef<str>>(
        &self,
        topics: &[S],
        last_event_id: impl IntoResumeFrom<'a>,
    ) -> Subscription {
        let from = last_event_id.into_resume_from();
        let mut seen = std::collections::HashSet::with_capacity(topics.len());
        let names: Vec<&str> = topics
            .iter()
            .map(AsRef::as_ref)
            .filter(|name| seen.insert(*name))
            .collect();
        match &self.backend {
            Backend::Memory(hub) => Subscription::memory(hub.subscribe(&names, from)),
            #[cfg(feature = "redis")]
            Backend::Redis(hub) => Subscription::redis(hub.subscribe(&names, from).await),
        }
    }

    /// How many subscriptions `topic` has right now (on Redis: in this instance).
    pub fn subscriber_count(&self, topic: &str) -> usize {
        match &self.backend {
            Backend::Memory(hub) => hub.subscriber_count(topic),
            #[cfg(feature = "redis")]
            Backend::Redis(hub) => hub.subscriber_count(topic),
        }
    }

    /// How many topics exist right now (that have a subscriber or some history). On Redis:
    /// how many topics this instance has subscribers for.
    pub fn topic_count(&self) -> usize {
        match &self.backend {
            Backend::Memory(hub) => hub.topic_count(),
            #[cfg(feature = "redis")]
            Backend::Redis(hub) => hub.topic_count(),
        }
    }

    /// What the in-process hub's topics cost together now, in bytes: the figure
    /// [`ChannelsBuilder::memory_budget`] bounds. It counts every topic's entry, name,
    /// subscriber slots and history, allocator overhead included; not the events queued
    /// for subscribers. On Redis: 0 (the history is in Redis).
    pub fn memory_used(&self) -> usize {
        match &self.backend {
            Backend::Memory(hub) => hub.memory_used(),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => 0,
        }
    }

    /// Trims every topic's history to [`history_age`](ChannelsBuilder::history_age) and
    /// frees the topics left with no subscriber and no history.
    ///
    /// Memory stays within [`memory_budget`](ChannelsBuilder::memory_budget) without it;
    /// it only frees expired history sooner. Without an age bound there is nothing to sweep. On Redis it does nothing: each topic
    /// is trimmed when it is published to. With an age bound in memory, call it now and then,
    /// for example from a `tokio::time::interval` task; it only takes each topic's lock
    /// briefly.
    pub fn sweep(&self) {
        match &self.backend {
            Backend::Memory(hub) => hub.sweep(),
            // Redis trims each topic's history when it is published to.
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {}
        }
    }
}

/// Settings for a [`Channels`] hub, from [`Channels::builder`].
///
/// ```
/// use actix_sse::{Channels, Lag};
/// use std::time::Duration;
///
/// let channels = Channels::builder()
///     .history_events(100)
///     .history_age(Duration::from_secs(60))
///     .queue(256)
///     .on_lag(Lag::Reset)
///     .build();
/// # drop(channels);
/// ```
#[derive(Debug, Clone)]
pub struct ChannelsBuilder {
    history_events: usize,
    history_bytes: usize,
    history_age: Option<Duration>,
    queue: usize,
    queue_bytes: usize,
    lag: Lag,
    reset_event: String,
    replay_last: usize,
    memory_budget: usize,
    #[cfg(feature = "redis")]
    key_prefix: String,
    #[cfg(feature = "redis")]
    topic_ttl: Duration,
    #[cfg(feature = "redis")]
    replicas: Option<(usize, Duration)>,
}

impl Default for ChannelsBuilder {
    fn default() -> Self {
        Self {
            history_events: 1_000,
            history_bytes: 1024 * 1024,
            history_age: None,
            queue: 1_024,
            queue_bytes: 256 * 1024,
            lag: Lag::End,
            reset_event: "reset".into(),
            replay_last: 0,
            memory_budget: 64 * 1024 * 1024,
            #[cfg(feature = "redis")]
            key_prefix: "actix-sse".into(),
            #[cfg(feature = "redis")]
            topic_ttl: Duration::from_secs(24 * 60 * 60),
            #[cfg(feature = "redis")]
            replicas: None,
        }
    }
}

impl ChannelsBuilder {
    /// At most `n` events of history per topic (default 1 000). With `0` nothing is kept:
    /// a reconnecting client that missed anything gets a reset event.
    pub fn history_events(mut self, n: usize) -> Self {
        self.history_events = n;
        self
    }

    /// At most `n` bytes of encoded events per topic (default 1 MiB). An event larger
    /// than this is delivered live but not kept; the events before it stay, and only a
    /// client resuming from before it gets a reset event (`trimmed`).
    pub fn history_bytes(mut self, n: usize) -> Self {
        self.history_bytes = n;
        self
    }

    /// Forget events older than `age` (default: kept until the other bounds push them
    /// out). See [`Channels::sweep`].
    pub fn history_age(mut self, age: Duration) -> Self {
        self.history_age = Some(age);
        self
    }

    /// At most `n` events queued for one subscriber that has not read them yet (default
    /// 1 024; at least 1). Replayed history does not count. See [`on_lag`](Self::on_lag).
    pub fn queue(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// At most `n` bytes of events queued for one subscriber that has not read them yet
    /// (default 256 KiB), counted by their encoded size. The lag policy applies at this
    /// bound or at [`queue`](Self::queue), whichever is reached first; a single event
    /// larger than `n` is still queued when the queue is empty.
    ///
    /// An event published to many subscribers is stored once and shared; each queue counts
    /// it at its full size, so the bound is what one subscriber that stopped reading can
    /// keep alive on its own. Replayed history does not count.
    pub fn queue_bytes(mut self, n: usize) -> Self {
        self.queue_bytes = n;
        self
    }

    /// What happens to a subscriber whose queue is full (default [`Lag::End`]).
    pub fn on_lag(mut self, lag: Lag) -> Self {
        self.lag = lag;
        self
    }

    /// The event type of reset events (default `reset`).
    ///
    /// # Panics
    ///
    /// If `name` contains CR or LF, which cannot be written in an event type.
    pub fn reset_event(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if let Err(err) = Event::new().event(&name).validate() {
            panic!("`reset_event` name: {err}");
        }
        self.reset_event = name;
        self
    }

    /// Without a `Last-Event-ID`, start with the last `n` events of history (across all
    /// topics of the subscription) before going live. Default 0: live only.
    pub fn replay_last(mut self, n: usize) -> Self {
        self.replay_last = n;
        self
    }

    /// At most `n` bytes for all topics of the in-process hub together (default 64 MiB;
    /// `usize::MAX` for no bound).
    ///
    /// Everything a topic holds counts: its entry and name, its subscriber slots and its
    /// history (see [`Channels::memory_used`]). When the total comes within a sixteenth of
    /// `n`, the histories of the topics published to least recently are dropped, oldest
    /// first, until it is back under three quarters of `n`; a topic left with no subscriber
    /// then takes no memory at all. A client that resumes into dropped history gets a reset event (`trimmed`),
    /// never a silent gap. Topics kept by their subscribers still count but stay.
    ///
    /// Queued events of slow subscribers are bounded per subscriber instead (see
    /// [`queue_bytes`](Self::queue_bytes)). With Redis the budget does not apply: bound
    /// Redis' memory with its `maxmemory`.
    pub fn memory_budget(mut self, n: usize) -> Self {
        self.memory_budget = n;
        self
    }

    /// With Redis: the prefix of every key and Pub/Sub channel the hub uses (default
    /// `actix-sse`). Hubs with different prefixes share nothing.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// With Redis: a topic's keys (its history and a small record of what it lost) expire
    /// once it has not been published to for `ttl` (default 24 h), so topics nobody uses
    /// any more take no room in Redis. A client resuming from an id older than `ttl` into
    /// such a topic, or into a topic created since, gets a reset event (`trimmed`), since
    /// what it missed cannot be known; resuming from a newer id is exact. Make it longer
    /// than [`history_age`](Self::history_age) if you set one.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn topic_ttl(mut self, ttl: Duration) -> Self {
        self.topic_ttl = ttl;
        self
    }

    /// With Redis: a publish succeeds only once `replicas` replicas hold it (Redis'
    /// `WAIT`, at most `timeout`, itself at most 1.75 s), so that an acknowledged event survives a failover. Off by
    /// default: replication is asynchronous, and a failover can lose the events the old
    /// master acknowledged last (their subscribers are then told, with a `reset`).
    ///
    /// When fewer replicas answer in time, `publish` returns [`PublishError::Backend`]:
    /// the event was stored on the master and may have reached subscribers already, so
    /// publishing it again may deliver it twice (with another id). Each such publish
    /// waits for one more round trip, and holds the instance's command connection while
    /// it does; the first after a replica (re)connected can wait for that replica's first
    /// acknowledgement, which Redis replicas send once a second.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        self.replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// A hub on Redis at `url` (for example `redis://127.0.0.1:6379/`), shared by every
    /// instance of the app that connects to it with the same [`key_prefix`](Self::key_prefix).
    ///
    /// Ids, history and live delivery go through Redis, so a client can resume on any
    /// instance. The history is bounded by [`history_events`](Self::history_events)
    /// (trimmed by whole batches of publishes, once 100 events are over: up to 164 more)
    /// and [`history_age`](Self::history_age); `history_bytes` does not apply (bound Redis'
    /// memory with its `maxmemory`). Each instance keeps two connections to Redis, whatever
    /// its number of subscribers, and sends the publishes that wait while one is on its way
    /// together, in one call.
    ///
    /// **Sentinel**: `redis+sentinel://host1:26379,host2:26379,host3:26379/mymaster` (and
    /// optionally `/{db}` after the master's name) finds the master through the sentinels,
    /// asked in turn at every (re)connection, and follows a failover: publishes fail with
    /// [`PublishError::Backend`] while the master changes, then go to the new one; open
    /// streams stay open and catch up from its history, as after a Redis restart. With
    /// asynchronous replication a failover can lose acknowledged events: their ids are
    /// never reused, and clients that missed them get a `reset` (see the scaling-out guide
    /// for what each setup guarantees).
    ///
    /// # Errors
    ///
    /// If the URL is invalid or Redis (with Sentinel: a sentinel that names a master that
    /// answers as one) cannot be reached now.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn connect_redis(self, url: &str) -> Result<Channels, BackendError> {
        let config = redis::Config {
            prefix: self.key_prefix,
            history_events: self.history_events,
            history_age: self.history_age,
            topic_ttl: self.topic_ttl,
            replicas: self.replicas,
            limit: queue::Limit {
                queue: self.queue,
                bytes: self.queue_bytes,
                lag: self.lag,
            },
            reset_event: self.reset_event,
            replay_last: self.replay_last,
        };
        let hub = redis::Hub::connect(url, config).await?;
        Ok(Channels {
            backend: Backend::Redis(Arc::new(hub)),
        })
    }

    /// The in-process hub.
    pub fn build(self) -> Channels {
        let config = memory::Config {
            bounds: history::Bounds {
                events: self.history_events,
                bytes: self.history_bytes,
                age: self.history_age,
            },
            limit: queue::Limit {
                queue: self.queue,
                bytes: self.queue_bytes,
                lag: self.lag,
            },
            reset_event: self.reset_event,
            replay_last: self.replay_last,
            budget: self.memory_budget,
        };
        Channels {
            backend: Backend::Memory(Arc::new(memory::Hub::new(config))),
        }
    }
}

#[cfg(test)]
mod tests;
