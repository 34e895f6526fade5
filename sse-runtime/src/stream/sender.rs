//! [`Sender`]: what `send!` calls, and [`SendError`].

use std::{
    fmt,
    future::Future,
    pin::Pin,
    rc::Rc,
    task::{ready, Context, Poll},
};

use bytes::BytesMut;

use super::shared::Shared;
use crate::{
    event::sealed::Out, serialize, EventFields, IntoEvent, InvalidEvent, SerializeError, Serializer,
};

/// A send in progress: written at its first poll when the buffer has room (the usual
/// case: no waiting, and no nested future to resume), else once it has.
struct Sending<'a, W> {
    tx: &'a Sender,
    write: Option<W>,
    /// This send's own state for `Shared::poll_ready`.
    yielded: bool,
}

// `write` is never pinned: it is taken out by value and called.
impl<W> Unpin for Sending<'_, W> {}

impl<W> Future for Sending<'_, W>
where
    W: FnOnce(&mut BytesMut) -> Result<(), SendError>,
{
    type Output = Result<(), SendError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = &this.tx.shared;
        if !shared.has_room() {
            ready!(shared.poll_ready(cx, &mut this.yielded))?;
        }
        let Some(write) = this.write.take() else {
            // Polled again after the yield below.
            return Poll::Ready(Ok(()));
        };
        match this.tx.commit(write) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => wrote_nothing(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// An event with no field writes nothing and never fills the buffer: its send yields once,
/// so that a loop of them still lets the worker run other tasks.
#[cold]
fn wrote_nothing(cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Sends events into one stream: what `send!` calls. Cheap to clone; not `Send` (it lives
/// on the connection's worker thread, like the handler).
///
/// Sending waits while the stream's buffer holds [`DEFAULT_BUFFER`](crate::DEFAULT_BUFFER) bytes (or the limit set
/// with [`Sse::buffer_size`](crate::Sse::buffer_size)) that the client has not taken yet: that is the back-pressure.
///
/// ```
/// use actix_sse::{Event, Json, SendError, Sse};
///
/// let body = Sse::from_fn(|tx| async move {
///     tx.send("plain data").await?;
///     tx.send(Event::data("typed").event("update").id(1)).await?;
///     tx.send_serialized(&[1, 2, 3], &Json, Event::new().event("numbers")).await?;
///     // Refused before anything is written; the stream goes on.
///     let refused = tx.send(Event::data("x").id("bad\nid")).await;
///     assert!(matches!(refused, Err(SendError::Invalid(_))));
///     tx.close();
///     Ok::<_, SendError>(())
/// });
/// # drop(body);
/// ```
#[derive(Clone)]
pub struct Sender {
    pub(super) shared: Rc<Shared>,
}

impl Sender {
    /// Sends one event: an [`Event`](crate::Event), or a string as its `data`.
    ///
    /// Errors: [`SendError::Invalid`] if the event would inject fields (nothing is written
    /// and the stream goes on), [`SendError::Closed`] once the stream has ended.
    ///
    /// An event with no field (`Event::new()`) has nothing to send: the send writes
    /// nothing, counts nothing, and yields once to the worker's other tasks.
    ///
    /// After the stream has ended, a send from the handler itself never completes: the
    /// body stops polling the handler and drops it (its locals' `Drop` runs), as when the
    /// client goes away. A send from another task (a clone moved into a spawned task)
    /// yields once, then returns [`SendError::Closed`].
    pub fn send<'a>(
        &'a self,
        event: impl IntoEvent + 'a,
    ) -> impl Future<Output = Result<(), SendError>> + 'a {
        self.sending(move |buf| event.encode_into(&mut Out(buf)).map_err(SendError::Invalid))
    }

    /// Sends `value` (an [`Event`](crate::Event) or a string) with the `event`, `id`, `retry` and comment
    /// that `fields` sets, replacing the value's own: what `send!(text, id = 7)` calls.
    ///
    /// With [`Fields`](crate::dev::Fields) every field is written straight into the stream's buffer, and a
    /// string value too: `tx.send_with("text", Fields::new().id(7))` allocates nothing.
    /// An [`Event`](crate::Event) is accepted as `fields` too (its data is ignored).
    ///
    /// Errors: as [`send`](Self::send).
    pub fn send_with<'a>(
        &'a self,
        value: impl IntoEvent + 'a,
        fields: impl EventFields + 'a,
    ) -> impl Future<Output = Result<(), SendError>> + 'a {
        self.sending(move |buf| {
            value
                .encode_with_fields(&fields, &mut Out(buf))
                .map_err(SendError::Invalid)
        })
    }

    /// Sends `value` through `serializer` as the event's data, with the other fields
    /// (`event`, `id`, `retry`, comment) taken from `fields`: [`Fields`](crate::dev::Fields), or an [`Event`](crate::Event)
    /// (its data, if any, is ignored).
    pub fn send_serialized<'a, T, S>(
        &'a self,
        value: &'a T,
        serializer: &'a S,
        fields: impl EventFields + 'a,
    ) -> impl Future<Output = Result<(), SendError>> + 'a
    where
        T: ?Sized,
        S: Serializer<T> + ?Sized,
    {
        self.sending(move |buf| encode_serialized(buf, value, serializer, &fields))
    }

    /// The future of every send: once there is room, `write` the frame.
    fn sending<W>(&self, write: W) -> Sending<'_, W>
    where
        W: FnOnce(&mut BytesMut) -> Result<(), SendError>,
    {
        Sending {
            tx: self,
            write: Some(write),
            yielded: false,
        }
    }

    /// Every send, once there is room: write the whole frame or nothing, and let the body
    /// know.
    /// Returns whether anything was written: nothing for an event with no field, which is
    /// not counted.
    #[inline]
    fn commit(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), SendError>,
    ) -> Result<bool, SendError> {
        match self.shared.write(write) {
            Ok(0) => Ok(false),
            Ok(_) => {
                self.shared.count_event();
                self.shared.wake_body();
                Ok(true)
            }
            Err(e) => {
                self.shared.count_refused();
                Err(e)
            }
        }
    }

    /// Ends the stream without sending anything; events already sent are delivered first.
    pub fn close(&self) {
        self.shared.closed.set(true);
        self.shared.wake_body();
    }

    /// True once the stream has ended or was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.get()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

pub(super) fn encode_serialized<T: ?Sized, S: Serializer<T> + ?Sized>(
    buf: &mut BytesMut,
    value: &T,
    serializer: &S,
    fields: &impl EventFields,
) -> Result<(), SendError> {
    fields.__write(buf, None).map_err(SendError::Invalid)?;
    serialize::write_data(serializer, value, buf).map_err(SendError::Serialize)?;
    buf.extend_from_slice(b"\n");
    Ok(())
}

/// Why an event was not sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The event would inject fields or events; nothing was written, the stream goes on.
    Invalid(InvalidEvent),
    /// The serializer failed; nothing was written, the stream goes on.
    Serialize(SerializeError),
    /// The stream has ended (closed, or the client went away).
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Invalid(e) => e.fmt(f),
            SendError::Serialize(e) => e.fmt(f),
            SendError::Closed => f.write_str("SSE stream is closed"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Invalid(e) => Some(e),
            SendError::Serialize(e) => Some(e),
            SendError::Closed => None,
        }
    }
}

/// So that `send!(..)?` works in handlers returning `actix_web::Result<()>`. The stream's
/// `200` head has gone out by then: the error is only logged, and it ends the stream.
impl actix_web::ResponseError for SendError {}

impl From<InvalidEvent> for SendError {
    fn from(e: InvalidEvent) -> Self {
        SendError::Invalid(e)
    }
}

impl From<SerializeError> for SendError {
    fn from(e: SerializeError) -> Self {
        SendError::Serialize(e)
    }
}
