//! [`ServerSentEvent`]: one thing the client read, and how it is sent on.

use std::{sync::Arc, time::Duration};

use crate::{Event, IntoEvent};

/// One event read by an [`EventSource`](super::EventSource), with the fields of its block
/// as they came (Ktor's `ServerSentEvent`).
///
/// An event has [`data`](Self::data); with [`show_comments`](super::Builder::show_comments)
/// a comment comes as an item with only [`comment`](Self::comment), and with
/// [`show_retry`](super::Builder::show_retry) a block with a `retry` field but no data as
/// an item with only [`retry`](Self::retry).
///
/// Sent on with `send!(ev)` (or [`Sender::send`](crate::Sender::send)), it goes out with
/// the fields it came with: its `event`, its own `id` field (none if its block had none:
/// the downstream client's last event id moves as the upstream one did), its `retry` and
/// its data, also in a handler with `serialize = json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSentEvent {
    pub(crate) event: Option<String>,
    pub(crate) data: Option<String>,
    pub(crate) id: Option<Arc<str>>,
    pub(crate) retry: Option<Duration>,
    pub(crate) comment: Option<String>,
    pub(crate) last_event_id: Arc<str>,
}

impl ServerSentEvent {
    /// The data (the `data` lines joined with LF); `""` for a comment or retry item.
    pub fn data(&self) -> &str {
        self.data.as_deref().unwrap_or("")
    }

    /// True for an event (an item with data), false for a comment or retry item.
    pub fn is_event(&self) -> bool {
        self.data.is_some()
    }

    /// The event type: the `event` field, or `message` when the block set none.
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    /// The block's own `event` field, if it had one.
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The block's own `id` field, if it had one (`Some("")` resets the last event id).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The last event id at this event, as a browser's `MessageEvent.lastEventId`: the
    /// latest `id` field of the stream, across reconnections (empty if none yet). What
    /// the client sends as `Last-Event-ID` when it reconnects after this event.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The block's `retry` field, if it had a valid one.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The comment, for a comment item.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The data as JSON.
    ///
    /// ```
    /// # use actix_sse::client::ServerSentEvent;
    /// # fn f(ev: ServerSentEvent) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Chunk { text: String }
    /// let chunk: Chunk = ev.json()?;
    /// # drop(chunk.text); Ok(()) }
    /// # let _ = f;
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data())
    }

    fn to_event(&self) -> Event {
        self.clone().into_event()
    }
}

/// Its own fields, as they came: `event`, `id`, `retry`, `data` (or the comment).
impl IntoEvent for ServerSentEvent {
    fn into_event(self) -> Event {
        Event {
            comment: self.comment,
            event: self.event,
            id: self.id.map(|id| id.to_string()),
            retry: self.retry,
            data: self.data,
        }
    }
}

/// As the event itself, from a clone.
impl IntoEvent for &ServerSentEvent {
    fn into_event(self) -> Event {
        self.to_event()
    }
}
