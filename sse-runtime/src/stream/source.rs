//! What drives a body: a push-style handler future ([`FnSource`]) or a `Stream`
//! ([`StreamSource`]), and how their results and items are encoded.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::BytesMut;
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::{sender::encode_serialized, shared::Shared, start::Answer};
use crate::{event::sealed::Out, IntoEvent, Serializer};

mod sealed {
    use super::*;

    /// What drives an `Sse` body: a handler future or a stream. Sealed: implemented by
    /// `FnSource` and `StreamSource` only.
    pub trait Source {
        #[doc(hidden)]
        fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &Shared) -> Poll<()>;
    }
}
pub(crate) use sealed::Source;

/// What a push-style handler may return: `()` or `Result<(), E>`. An error is logged (at
/// `error` level, target `actix_sse`) and ends the stream cleanly.
///
/// With the `#[sse]` macro, an `Err` that converts into `actix_web::Error` (any
/// `ResponseError`) and is returned before the first event becomes the response instead;
/// see [`Sse::start`](crate::Sse::start). Without the macro, use
/// [`Sender::reject`](crate::Sender::reject).
#[diagnostic::on_unimplemented(
    message = "an SSE handler cannot return `{Self}`",
    label = "return `()` or `Result<(), E>` here",
    note = "a push-style handler sends with `send!` and returns `()` or `Result<(), E>` with `E: Display`",
    note = "a stream-style handler names its stream in the return type: `-> impl Stream<Item = Event>`, or `-> Result<impl Stream<Item = Event>, E>` to answer before streaming"
)]
pub trait HandlerResult {
    /// How the handler ended.
    #[doc(hidden)]
    fn into_outcome(self) -> Outcome;
}

/// How a push-style handler ended. Not a public API: what generated code hands the body.
#[doc(hidden)]
#[derive(Debug)]
pub enum Outcome {
    /// Returned `()` or `Ok(())`.
    Done,
    /// Returned an error to log.
    Failed(String),
    /// Returned an error that has a response: the answer, if nothing was sent yet.
    Answer(actix_web::Error),
}

impl HandlerResult for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl HandlerResult for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Done
    }
}

impl<E: fmt::Display> HandlerResult for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

pin_project! {
    /// What drives the body of [`Sse::from_fn`](crate::Sse::from_fn): the push-style
    /// handler's future, whose output is a [`HandlerResult`]. You get one from `from_fn`;
    /// you never build it yourself.
    pub struct FnSource<Fut> {
        #[pin]
        pub(super) fut: Fut,
    }
}

impl<Fut> Source for FnSource<Fut>
where
    Fut: Future,
    Fut::Output: HandlerResult,
{
    fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &Shared) -> Poll<()> {
        match std::task::ready!(self.project().fut.poll(cx)).into_outcome() {
            Outcome::Done => {}
            Outcome::Failed(e) => {
                log::error!(target: "actix_sse", "SSE handler returned an error: {e}");
                out.failed.set(true);
            }
            Outcome::Answer(e) => out.answer(Answer::Error(e)),
        }
        Poll::Ready(())
    }
}

/// An item of a stream given to [`Sse::from_stream`](crate::Sse::from_stream): anything [`IntoEvent`], or a
/// `Result` of it. An `Err` item is logged and ends the stream cleanly (like `?` in a
/// handler); an invalid event is logged and skipped.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an item of an SSE stream",
    label = "the stream's items must be events",
    note = "yield `Event`s or strings (the event's data), or `Result`s of them",
    note = "to yield other values, serialize them: `#[sse(.., serialize = json)]` or `serialize = path::to::fn`"
)]
pub trait StreamItem {
    #[doc(hidden)]
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError>;
}

impl<T: IntoEvent> StreamItem for T {
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError> {
        self.encode_into(&mut Out(buf))
            .map_err(|e| ItemError::Skip(e.to_string()))
    }
}

impl<T: IntoEvent, E: fmt::Display> StreamItem for Result<T, E> {
    fn encode_item(self, buf: &mut BytesMut) -> Result<(), ItemError> {
        match self {
            Ok(item) => item.encode_item(buf),
            Err(e) => Err(ItemError::End(e.to_string())),
        }
    }
}

#[doc(hidden)]
#[derive(Debug)]
pub enum ItemError {
    Skip(String),
    End(String),
}

/// How a stream's items are encoded: as events ([`Plain`]) or through a serializer
/// ([`WithSerializer`]).
pub trait ItemEncoder<I> {
    #[doc(hidden)]
    fn encode(&self, item: I, buf: &mut BytesMut) -> Result<(), ItemError>;
}

/// Items are [`StreamItem`]s: events, strings, or `Result`s of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl<I: StreamItem> ItemEncoder<I> for Plain {
    fn encode(&self, item: I, buf: &mut BytesMut) -> Result<(), ItemError> {
        item.encode_item(buf)
    }
}

/// Items are values for the serializer `S`; a serializer error is logged and the item
/// skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithSerializer<S>(pub S);

impl<T, S: Serializer<T>> ItemEncoder<T> for WithSerializer<S> {
    fn encode(&self, item: T, buf: &mut BytesMut) -> Result<(), ItemError> {
        encode_serialized(buf, &item, &self.0, &crate::Fields::new())
            .map_err(|e| ItemError::Skip(e.to_string()))
    }
}

pin_project! {
    /// What drives the body of [`Sse::from_stream`](crate::Sse::from_stream) and
    /// [`Sse::from_serialized_stream`](crate::Sse::from_serialized_stream): the stream, and
    /// how its items are encoded ([`Plain`] or [`WithSerializer`]). You get one from those
    /// constructors; you never build it yourself.
    pub struct StreamSource<St, Enc> {
        #[pin]
        pub(super) stream: St,
        pub(super) encoder: Enc,
    }
}

/// How many items in a row that write nothing a stream source takes before it yields.
const EMPTY_ITEMS_PER_POLL: usize = 1024;

impl<St, Enc> Source for StreamSource<St, Enc>
where
    St: Stream,
    Enc: ItemEncoder<St::Item>,
{
    fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &Shared) -> Poll<()> {
        let mut this = self.project();
        // Items that wrote nothing (events with no field, skipped items) in a row: they
        // never fill the buffer, so after this many the source yields.
        let mut empty = 0;
        // Take every ready item, up to the buffer limit: they go out as one chunk.
        while out.buf.borrow().len() < out.limit() {
            if empty == EMPTY_ITEMS_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(item) = std::task::ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(());
            };
            match out.write(|buf| this.encoder.encode(item, buf)) {
                Ok(0) => empty += 1,
                Ok(_) => {
                    empty = 0;
                    out.count_event();
                }
                Err(ItemError::Skip(e)) => {
                    log::warn!(target: "actix_sse", "SSE stream item skipped: {e}");
                    out.count_refused();
                    empty += 1;
                }
                Err(ItemError::End(e)) => {
                    log::error!(target: "actix_sse", "SSE stream ended by an error item: {e}");
                    out.failed.set(true);
                    return Poll::Ready(());
                }
            }
        }
        // Full: the body flushes and polls again, no waker needed.
        Poll::Pending
    }
}
