//! Noticing an HTTP/2 client that left while its stream is silent.
//!
//! Over HTTP/1.1 a client's close reaches the connection's dispatcher, which drops the body
//! (with `.sse_defaults()`). Over HTTP/2, actix-web runs each stream as a task that only
//! learns of a reset (`RST_STREAM`) or of the connection's end when it writes the next
//! chunk: a silent stream (heartbeat off, or a long period) would keep its handler for as
//! long. The request's own body stream does know: once the stream is reset or the
//! connection gone, reading it fails. So a handler declared with `#[sse]` takes the
//! request's payload (after the user's extractors, which get it first), and the body reads
//! it every [`PROBE_PERIOD`] while it has nothing to send: on an error the body ends and
//! the handler is dropped. While the request body is still open, the read also wakes the
//! body at once on a reset.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{dev::Payload, http::Version, FromRequest, HttpMessage, HttpRequest};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

/// How often a silent HTTP/2 stream checks that its client is still there.
pub const PROBE_PERIOD: Duration = Duration::from_millis(500);

/// The request payload of an HTTP/2 request, kept in its extensions until the body takes it.
struct Slot(Payload);

/// Lets an HTTP/2 stream notice that its client left while it sends nothing.
///
/// Over HTTP/2 (unlike HTTP/1.1), actix-web learns that a client reset its stream or
/// closed the connection only when the stream writes; a stream with its heartbeat off (or
/// a long period) would keep its handler until its next event. With this extractor among
/// the handler's parameters, the stream checks every [`PROBE_PERIOD`] (0.5 s) while it
/// has nothing to send, and a client that left has its handler dropped within that time.
///
/// Handlers declared with a path (`#[sse("/events")]`) take it already. Add it to a
/// path-less `#[sse]` handler, or to a plain actix-web handler that returns an [`Sse`](crate::Sse),
/// as the last parameter (it takes the request's body, after any extractor that reads
/// it; a handler whose own extractors read the body keeps the heartbeat as its only check).
/// Over HTTP/1.1 it does nothing.
///
/// ```
/// use actix_sse::{prelude::*, PeerProbe};
///
/// #[sse(heartbeat = "off")]
/// async fn quiet(_probe: PeerProbe) {
///     send!("hello");
///     std::future::pending::<()>().await;
/// }
/// # let _ = actix_web::App::new().route("/quiet", actix_web::web::get().to(quiet));
/// ```
#[derive(Debug)]
pub struct PeerProbe;

impl FromRequest for PeerProbe {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.version() == Version::HTTP_2 {
            match payload.take() {
                Payload::None => {}
                payload => {
                    req.extensions_mut().insert(Slot(payload));
                }
            }
        }
        std::future::ready(Ok(PeerProbe))
    }
}

/// The body's side: reads the payload now and then.
pub(crate) struct Probe {
    payload: Payload,
    /// Created on the first check (it needs the runtime), then only reset.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Probe {
    /// The probe of this request, if its handler took the payload for one.
    pub(crate) fn take(req: &HttpRequest) -> Option<Self> {
        let Slot(payload) = req.extensions_mut().remove::<Slot>()?;
        Some(Probe {
            payload,
            sleep: None,
        })
    }

    /// Whether the client is known to be gone (the stream was reset or the connection
    /// closed). Registers `cx` for the next check.
    pub(crate) fn gone(&mut self, cx: &mut Context<'_>) -> bool {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::ZERO)));
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        sleep.as_mut().reset(Instant::now() + PROBE_PERIOD);
        let _ = sleep.as_mut().poll(cx);
        loop {
            match Pin::new(&mut self.payload).poll_next(cx) {
                // Request body nobody reads: let it go.
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(_))) => return true,
                // Still there: the request's body ended (a GET), or is open and waiting.
                Poll::Ready(None) | Poll::Pending => return false,
            }
        }
    }
}
