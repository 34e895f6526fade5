//! The [`Event`] type, its validation, and the trait for everything that can be sent.

use std::{borrow::Cow, fmt, time::Duration};

use bytes::BytesMut;

use crate::{encode, EventFields};

/// One Server-Sent Event: `data`, an `event` type, an `id`, a `retry` hint and comments.
///
/// Every field is optional, so an `id`-only block (it moves the client's last event id),
/// a `retry`-only frame and a comment (which a client ignores: a keep-alive) are all
/// events too.
///
/// # Safety of the builders
///
/// The builders never fail and never panic. A field that could inject other fields or
/// events into the stream (`event` or `id` with CR or LF, `id` with NUL) is caught when the
/// event is *encoded*: [`Event::encode`] (and therefore every `send`) refuses the whole event
/// with an [`InvalidEvent`] that names the field and the character, and writes nothing.
/// The stream goes on with the next event. Call [`Event::validate`] to check untrusted
/// input earlier. `data` and comments cannot inject anything: every line of them is
/// prefixed (`data: ` / `: `), whatever line breaks (CRLF, LF, lone CR) they contain.
///
/// # Examples
///
/// ```
/// use actix_sse::Event;
/// use bytes::BytesMut;
/// use std::time::Duration;
///
/// let ev = Event::data("line 1\nline 2").event("update").id(42).retry(Duration::from_secs(3));
/// let mut buf = BytesMut::new();
/// ev.encode(&mut buf).unwrap();
/// assert_eq!(&buf[..], b"event: update\nid: 42\nretry: 3000\ndata: line 1\ndata: line 2\n\n");
///
/// // An id that would inject a field is refused, and nothing is written.
/// let mut buf = BytesMut::new();
/// let err = Event::data("x").id("1\nevent: evil").encode(&mut buf).unwrap_err();
/// assert_eq!(err.field(), actix_sse::Field::Id);
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub(crate) comment: Option<String>,
    pub(crate) event: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) retry: Option<Duration>,
    pub(crate) data: Option<String>,
}

impl Event {
    /// An event with no field at all; it encodes to nothing until a field is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `message` event carrying `data` (one `data: ` line per line of it).
    ///
    /// An empty string is a real event with empty data (`data: \n\n`): the client
    /// receives a `message` whose data is `""`.
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            data: Some(data.into()),
            ..Self::default()
        }
    }

    /// A comment: `: text\n`, every line prefixed. Comments dispatch nothing.
    pub fn comment(text: impl Into<String>) -> Self {
        Self {
            comment: Some(text.into()),
            ..Self::default()
        }
    }

    /// Sets the data (replacing any), for events built with [`Event::new`].
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Adds a comment, written before the other fields.
    pub fn with_comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// Sets the event type (`event: name`); the client dispatches it to listeners of `name`.
    ///
    /// A name with CR or LF is refused when the event is encoded. `error` and `open` are
    /// legal names, but `EventSource` fires its `onerror`/`onopen`-style listeners for them.
    pub fn event(mut self, name: impl fmt::Display) -> Self {
        self.event = Some(name.to_string());
        self
    }

    /// Sets the event id (`id: value`), which the client sends back as `Last-Event-ID`.
    ///
    /// Accepts strings and integers (anything `Display`). An id with CR, LF or NUL is
    /// refused when the event is encoded. `""` is a real id: it resets the client's last
    /// event id, so its next reconnect sends no `Last-Event-ID`.
    pub fn id(mut self, id: impl fmt::Display) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// Sets the client's reconnection time, written as integer milliseconds.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The data, if any.
    pub fn get_data(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The event type, if any.
    pub fn get_event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The id, if any.
    pub fn get_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The retry hint, if any.
    pub fn get_retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The comment, if any.
    pub fn get_comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Checks that the event can be written without injecting fields or events.
    pub fn validate(&self) -> Result<(), InvalidEvent> {
        if let Some(name) = &self.event {
            check(Field::Event, name, false)?;
        }
        if let Some(id) = &self.id {
            check(Field::Id, id, true)?;
        }
        Ok(())
    }

    /// Appends the WHATWG encoding of this event to `buf`.
    ///
    /// On error nothing is written. Fields are written in the order comment, `event`, `id`,
    /// `retry`, `data`, then the empty line that dispatches the event (not for a
    /// comment-only event, which dispatches nothing).
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), InvalidEvent> {
        self.validate()?;
        encode::fields(buf, self);
        if let Some(data) = &self.data {
            encode::data(buf, data.as_bytes());
        }
        encode::end(buf, self);
        Ok(())
    }
}

fn check(field: Field, value: &str, nul: bool) -> Result<(), InvalidEvent> {
    let bad = |b: &u8| *b == b'\n' || *b == b'\r' || (nul && *b == 0);
    match value.as_bytes().iter().position(bad) {
        None => Ok(()),
        Some(index) => Err(InvalidEvent {
            field,
            byte: value.as_bytes()[index],
            index,
        }),
    }
}

/// The field of an [`Event`] that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The `event` type.
    Event,
    /// The `id`.
    Id,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Event => "event",
            Field::Id => "id",
        })
    }
}

/// An event that cannot be written because a field would inject other fields or events.
///
/// Names the field, the offending character and its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    field: Field,
    byte: u8,
    index: usize,
}

impl InvalidEvent {
    pub(crate) fn new(field: Field, byte: u8, index: usize) -> Self {
        Self { field, byte, index }
    }

    /// The refused field.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The offending character (CR, LF or NUL).
    pub fn character(&self) -> char {
        char::from(self.byte)
    }

    /// The byte offset of the offending character in the field's value.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.byte {
            b'\n' => "a line feed (LF, U+000A)",
            b'\r' => "a carriage return (CR, U+000D)",
            _ => "a NUL (U+0000)",
        };
        write!(
            f,
            "invalid SSE event: `{}` contains {what} at byte {}; \
             `event` and `id` cannot contain CR or LF, and `id` cannot contain NUL",
            self.field, self.index
        )
    }
}

impl std::error::Error for InvalidEvent {}

/// The buffer an event is encoded into. Only this crate can write to it, so no
/// implementation of [`IntoEvent`] outside it can put unframed bytes on the wire.
#[allow(unreachable_pub)]
pub mod sealed {
    use bytes::BytesMut;

    /// An event's destination; it cannot be built or written to outside this crate.
    #[derive(Debug)]
    pub struct Out<'a>(pub(crate) &'a mut BytesMut);
}
use sealed::Out;

/// A value that can be sent as one event without a serializer.
///
/// Implemented for [`Event`] (and `&Event`), and for strings, which become the event's
/// `data`. Strings are encoded straight into the output buffer: sending a `&str` allocates
/// nothing.
///
/// To make your own type sendable, implement [`into_event`](Self::into_event): the runtime
/// encodes the [`Event`] it returns, with the same checks as every other event, so an
/// implementation cannot write anything but well-framed events.
///
/// ```
/// use actix_sse::{Event, IntoEvent};
///
/// struct Price { symbol: &'static str, cents: u64 }
///
/// impl IntoEvent for Price {
///     fn into_event(self) -> Event {
///         Event::data(format!("{}", self.cents)).event(self.symbol)
///     }
/// }
/// # let _ = Price { symbol: "ACME", cents: 1 }.into_event();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as an event",
    label = "not an `Event` or a string",
    note = "an `Event` is sent as it is, a string (`&str`, `String`, ..) as the event's data: convert the value, like `value.to_string()` or `Event::data(..)`",
    note = "`send!` sends other values through a serializer: `#[sse(.., serialize = json)]` for any `serde::Serialize` value, or `serialize = path::to::fn`"
)]
pub trait IntoEvent: Sized {
    /// The value as an [`Event`].
    fn into_event(self) -> Event;

    /// Appends the encoding; on error nothing is written. Strings and events override it
    /// to skip building an [`Event`].
    #[doc(hidden)]
    fn encode_into(self, out: &mut Out<'_>) -> Result<(), InvalidEvent> {
        self.into_event().encode(out.0)
    }

    /// Appends the encoding with the `event`, `id`, `retry` and comment that `fields` sets
    /// (they replace the value's own). What `send!(value, id = 1)` calls. Strings are
    /// written straight into the buffer, without building an [`Event`] first.
    #[doc(hidden)]
    fn encode_with_fields(
        self,
        fields: &impl EventFields,
        out: &mut Out<'_>,
    ) -> Result<(), InvalidEvent> {
        let ev = self.into_event();
        let dispatches = fields.__write(out.0, Some(&ev))?;
        if let Some(data) = &ev.data {
            encode::data(out.0, data.as_bytes());
        }
        if dispatches || ev.data.is_some() {
            out.0.extend_from_slice(b"\n");
        }
        Ok(())
    }
}

impl IntoEvent for Event {
    fn encode_into(self, out: &mut Out<'_>) -> Result<(), InvalidEvent> {
        self.encode(out.0)
    }

    fn into_event(self) -> Event {
        self
    }
}

impl IntoEvent for &Event {
    fn encode_into(self, out: &mut Out<'_>) -> Result<(), InvalidEvent> {
        self.encode(out.0)
    }

    /// As the default, without cloning the event first.
    fn encode_with_fields(
        self,
        fields: &impl EventFields,
        out: &mut Out<'_>,
    ) -> Result<(), InvalidEvent> {
        if !fields.__sets_any() {
            return self.encode(out.0);
        }
        let dispatches = fields.__write(out.0, Some(self))?;
        if let Some(data) = &self.data {
            encode::data(out.0, data.as_bytes());
        }
        if dispatches || self.data.is_some() {
            out.0.extend_from_slice(b"\n");
        }
        Ok(())
    }

    fn into_event(self) -> Event {
        self.clone()
    }
}

macro_rules! data_impls {
    ($($ty:ty),*) => {$(
        impl IntoEvent for $ty {
            fn encode_into(self, out: &mut Out<'_>) -> Result<(), InvalidEvent> {
                let data: &str = &self;
                encode::data(out.0, data.as_bytes());
                out.0.extend_from_slice(b"\n");
                Ok(())
            }

            fn into_event(self) -> Event {
                Event::data(self)
            }

            #[inline]
            fn encode_with_fields(
                self,
                fields: &impl EventFields,
                out: &mut Out<'_>,
            ) -> Result<(), InvalidEvent> {
                fields.__write(out.0, None)?;
                let data: &str = &self;
                encode::data(out.0, data.as_bytes());
                out.0.extend_from_slice(b"\n");
                Ok(())
            }
        }
    )*};
}

data_impls!(&str, String, &String, Box<str>, Cow<'_, str>);
