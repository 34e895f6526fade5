//! [`Subscription`] (a `Stream` of [`ChannelEvent`]s) and the events it yields.

use std::{
    borrow::Cow,
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_core::Stream;

use super::{memory::MemorySubscription, EventId};

/// One event received from a channel: its topic, its id and its encoded frame.
///
/// Cloning is cheap (two reference counts): the encoded bytes are shared with the topic's
/// history and with every other subscriber. [`data`](Self::data) and
/// [`event_type`](Self::event_type) are read back from those bytes when asked for.
///
/// A subscription also yields *reset* events ([`is_reset`](Self::is_reset)): they tell the
/// client that events were lost (its `Last-Event-ID` was unknown, too old, or it fell
/// behind). A reset's type is the hub's reset name (`reset` by default), its data the
/// reason (`unknown-id`, `trimmed` or `lagged`), and its id the hub's newest position, so a
/// client that reconnects after it resumes from there.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelEvent {
    topic: Arc<str>,
    id: EventId,
    frame: Bytes,
    reset: bool,
}

impl ChannelEvent {
    pub(crate) fn new(topic: Arc<str>, id: EventId, frame: Bytes) -> Self {
        Self {
            topic,
            id,
            frame,
            reset: false,
        }
    }

    /// A reset event: type `name` (the hub's reset name, checked when the hub was built),
    /// data `reason`, at `id`.
    pub(crate) fn reset(topic: Arc<str>, id: EventId, name: &str, reason: &str) -> Self {
        let mut frame = bytes::BytesMut::new();
        let _ = crate::Event::new()
            .event(name)
            .id(id)
            .with_data(reason)
            .encode(&mut frame);
        Self {
            topic,
            id,
            frame: frame.freeze(),
            reset: true,
        }
    }

    /// The topic it was published to. For a reset event, the subscription's first topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The id the hub gave it (also written in its `id:` line).
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// Whether this is a reset event rather than a published one.
    pub fn is_reset(&self) -> bool {
        self.reset
    }

    /// The event type (`event:` line), if one was set.
    pub fn event_type(&self) -> Option<&str> {
        self.lines()
            .take_while(|line| !line.starts_with(b"data: "))
            .find_map(|line| line.strip_prefix(b"event: "))
            .map(|name| std::str::from_utf8(name).unwrap_or_default())
    }

    /// The data, with the lines of a multi-line value joined by `\n` (as a client reads
    /// it); empty if the event had no data. Borrowed when the data is one line.
    pub fn data(&self) -> Cow<'_, str> {
        let mut lines = self.lines().filter_map(|l| l.strip_prefix(b"data: "));
        let Some(first) = lines.next() else {
            return Cow::Borrowed("");
        };
        let mut data = String::from_utf8_lossy(first);
        for line in lines {
            let data = data.to_mut();
            data.push('\n');
            data.push_str(&String::from_utf8_lossy(line));
        }
        data
    }

    /// The exact encoded bytes, `id:` line included: what goes on the wire.
    pub(crate) fn frame(&self) -> &Bytes {
        &self.frame
    }

    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        // Frames use LF only; the final empty line ends the event.
        self.frame()
            .split(|&b| b == b'\n')
            .take_while(|line| !line.is_empty())
    }
}

impl fmt::Debug for ChannelEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelEvent")
            .field("topic", &self.topic)
            .field("id", &self.id.to_string())
            .field("reset", &self.reset)
            .field("frame", &String::from_utf8_lossy(&self.frame))
            .finish()
    }
}

type Filter = Box<dyn Fn(&ChannelEvent) -> bool + Send + Sync>;

/// A live feed of one or more topics, from [`Channels::subscribe`](super::Channels::subscribe).
///
/// A `Stream` of [`ChannelEvent`]s: first what the client missed (when it resumed with a
/// `Last-Event-ID`), or a reset event when that cannot be replayed, then every new
/// event, each exactly once and in id order. Dropping it unsubscribes at once.
///
/// It ends (yields `None`) only if it fell too far behind under [`Lag::End`](super::Lag):
/// check [`lagged`](Self::lagged) to tell that apart in logs.
pub struct Subscription {
    inner: Inner,
    filter: Option<Filter>,
}

enum Inner {
    Memory(MemorySubscription),
    #[cfg(feature = "redis")]
    Redis(super::redis::RedisSubscription),
}

impl Subscription {
    /// The next event, or `None` once the subscription has ended (it fell behind with
    /// [`Lag::End`](crate::Lag::End)). For a push-style handler that forwards events and
    /// sends its own: `while let Some(event) = sub.next().await { send!(event); }`.
    pub async fn next(&mut self) -> Option<ChannelEvent> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    pub(crate) fn memory(inner: MemorySubscription) -> Self {
        Self {
            inner: Inner::Memory(inner),
            filter: None,
        }
    }

    #[cfg(feature = "redis")]
    pub(crate) fn redis(inner: super::redis::RedisSubscription) -> Self {
        Self {
            inner: Inner::Redis(inner),
            filter: None,
        }
    }

    /// Keeps only the events for which `keep` returns `true` (several filters all apply).
    ///
    /// Filters run when the subscription is polled, on the subscriber's task, never in
    /// `publish`. Events that are filtered out still take room in the queue until then.
    /// Reset events always pass. Resuming stays exact: the client's `Last-Event-ID` is the
    /// last event it received, and events filtered out after it are filtered out again.
    ///
    /// ```
    /// use actix_sse::{Channels, Event};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let channels = Channels::new();
    /// let mut alerts = channels
    ///     .subscribe("sensors", None)
    ///     .await
    ///     .filter(|ev| ev.event_type() == Some("alert"));
    /// channels.publish("sensors", "21.5").await.unwrap();
    /// channels.publish("sensors", Event::data("fire").event("alert")).await.unwrap();
    /// assert_eq!(alerts.next().await.unwrap().data(), "fire");
    /// # }
    /// ```
    pub fn filter(mut self, keep: impl Fn(&ChannelEvent) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(match self.filter.take() {
            None => Box::new(keep),
            Some(before) => Box::new(move |ev| before(ev) && keep(ev)),
        });
        self
    }

    /// Whether this subscription fell behind: its queue filled up because it was not
    /// polled fast enough. Under [`Lag::End`](super::Lag) it then ended; under
    /// [`Lag::Reset`](super::Lag) it yielded a reset event and went on live.
    pub fn lagged(&self) -> bool {
        match &self.inner {
            Inner::Memory(sub) => sub.lagged(),
            #[cfg(feature = "redis")]
            Inner::Redis(sub) => sub.lagged(),
        }
    }
}

impl Stream for Subscription {
    type Item = ChannelEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let next = match &mut this.inner {
                Inner::Memory(sub) => sub.poll_next(cx),
                #[cfg(feature = "redis")]
                Inner::Redis(sub) => sub.poll_next(cx),
            };
            match (&next, &this.filter) {
                (Poll::Ready(Some(ev)), Some(keep)) if !ev.is_reset() && !keep(ev) => continue,
                _ => return next,
            }
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("filtered", &self.filter.is_some())
            .field("lagged", &self.lagged())
            .finish_non_exhaustive()
    }
}

/// A channel event is sent as it was published: its encoded bytes are written as they are
/// (no re-encoding), `id:` line included, so `send!(event)` and a stream of them resume
/// exactly. With fields (`send!(event, id = ..)`), it is rebuilt as an [`Event`](crate::Event) first,
/// and the fields replace its own.
impl crate::IntoEvent for ChannelEvent {
    fn into_event(self) -> crate::Event {
        let mut ev = crate::Event::new();
        let mut comment: Option<String> = None;
        let mut data: Option<String> = None;
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let append = |slot: &mut Option<String>, line: &[u8]| match slot {
            Some(s) => {
                s.push('\n');
                s.push_str(&String::from_utf8_lossy(line));
            }
            None => *slot = Some(text(line)),
        };
        for line in self.lines() {
            if let Some(v) = line.strip_prefix(b"data: ") {
                append(&mut data, v);
            } else if let Some(v) = line.strip_prefix(b"event: ") {
                ev = ev.event(text(v));
            } else if let Some(v) = line.strip_prefix(b"id: ") {
                ev = ev.id(text(v));
            } else if let Some(v) = line.strip_prefix(b"retry: ") {
                if let Ok(ms) = std::str::from_utf8(v).unwrap_or_default().parse() {
                    ev = ev.retry(std::time::Duration::from_millis(ms));
                }
            } else if let Some(v) = line.strip_prefix(b":") {
                append(&mut comment, v.strip_prefix(b" ").unwrap_or(v));
            }
        }
        if let Some(c) = comment {
            ev = ev.with_comment(c);
        }
        if let Some(d) = data {
            ev = ev.with_data(d);
        }
        ev
    }

    fn encode_into(
        self,
        out: &mut crate::event::sealed::Out<'_>,
    ) -> Result<(), crate::InvalidEvent> {
        // Encoded and checked once, when it was published.
        out.0.extend_from_slice(&self.frame);
        Ok(())
    }
}

/// As the event itself: its bytes are copied as they are; with fields, it is rebuilt (from
/// a clone) first.
impl crate::IntoEvent for &ChannelEvent {
    fn into_event(self) -> crate::Event {
        self.clone().into_event()
    }

    fn encode_into(
        self,
        out: &mut crate::event::sealed::Out<'_>,
    ) -> Result<(), crate::InvalidEvent> {
        out.0.extend_from_slice(&self.frame);
        Ok(())
    }

    fn encode_with_fields(
        self,
        fields: &impl crate::EventFields,
        out: &mut crate::event::sealed::Out<'_>,
    ) -> Result<(), crate::InvalidEvent> {
        if !fields.__sets_any() {
            return self.encode_into(out);
        }
        self.clone().encode_with_fields(fields, out)
    }
}
