//! Process-wide counters: open streams, events and bytes sent, heartbeats, how streams
//! ended, slow channel subscribers. Relaxed atomics, added to per chunk or per stream, not
//! per event: the event path itself only bumps a counter of its own stream.

use std::{
    fmt::{self, Write as _},
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// The counters. Each is only ever added to; the snapshot reads each on its own.
pub(crate) struct Counters {
    pub(crate) streams_opened: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) events_refused: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    pub(crate) ended_disconnect: AtomicU64,
    pub(crate) ended_close: AtomicU64,
    pub(crate) ended_error: AtomicU64,
    pub(crate) ended_panic: AtomicU64,
    pub(crate) subscribers_ended_lag: AtomicU64,
    pub(crate) subscribers_reset_lag: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    streams_opened: AtomicU64::new(0),
    events_sent: AtomicU64::new(0),
    bytes_sent: AtomicU64::new(0),
    events_refused: AtomicU64::new(0),
    heartbeats: AtomicU64::new(0),
    ended_disconnect: AtomicU64::new(0),
    ended_close: AtomicU64::new(0),
    ended_error: AtomicU64::new(0),
    ended_panic: AtomicU64::new(0),
    subscribers_ended_lag: AtomicU64::new(0),
    subscribers_reset_lag: AtomicU64::new(0),
};

/// Adds `n` to `counter`.
#[inline]
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// How a stream ended, for the counters and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The body was dropped before it ended: the client went away (or the server dropped
    /// the connection).
    Disconnect,
    /// It ended cleanly: the handler or stream finished, a close, a session close, a
    /// graceful stop.
    Close,
    /// It ended cleanly after an error: a handler's `Err`, an `Err` item of a stream.
    Error,
    /// The handler panicked.
    Panic,
}

impl EndReason {
    pub(crate) fn count(self) {
        let counter = match self {
            EndReason::Disconnect => &COUNTERS.ended_disconnect,
            EndReason::Close => &COUNTERS.ended_close,
            EndReason::Error => &COUNTERS.ended_error,
            EndReason::Panic => &COUNTERS.ended_panic,
        };
        add(counter, 1);
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndReason::Disconnect => "disconnect",
            EndReason::Close => "close",
            EndReason::Error => "error",
            EndReason::Panic => "panic",
        }
    }
}

/// A snapshot of this process's SSE counters, from [`metrics()`].
///
/// Every field but [`streams_open`](Self::streams_open) counts since the process started
/// and only grows (Prometheus counters); rates and deltas are the monitoring system's job.
/// The counters are process-wide, across every worker and every server in the process.
///
/// Counted streams are those whose `200` head went out: a handler that answered something
/// else (`reject!`, an error before the first event) opened no stream.
///
/// ```
/// let before = actix_sse::metrics();
/// // .. serve some streams ..
/// let now = actix_sse::metrics();
/// println!("{} open, {} events sent since", now.streams_open, now.events_sent - before.events_sent);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Streams open now: opened and not yet ended.
    pub streams_open: u64,
    /// Streams opened: a `200` event-stream head was sent.
    pub streams_opened: u64,
    /// Events sent: written into the stream and handed to actix-web (with the chunk that
    /// carries them). A stream's events are added when its next chunk goes out, so a
    /// snapshot may lag behind by the events of one chunk per stream.
    pub events_sent: u64,
    /// Bytes of event-stream body handed to actix-web: events, heartbeats, `retry` lines.
    pub bytes_sent: u64,
    /// Events refused and not written: an `event` or `id` that would inject fields, a
    /// serializer error, an invalid item of a stream-style handler.
    pub events_refused: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Streams that ended because their body was dropped before its end: the client went
    /// away (or the connection was cut, e.g. at the end of a shutdown timeout).
    pub ended_disconnect: u64,
    /// Streams that ended cleanly (final chunk): the handler returned, `close!()`,
    /// `SseSession::close`, the end of a stream-style handler's stream, a graceful stop.
    pub ended_close: u64,
    /// Streams that ended cleanly because of an error: a handler's `Err`, an `Err` item, a
    /// `reject!` after the first event.
    pub ended_error: u64,
    /// Streams that ended because their handler panicked.
    pub ended_panic: u64,
    /// `Channels` subscribers whose stream was ended because they fell behind
    /// ([`Lag::End`](crate::Lag::End)).
    pub subscribers_ended_lag: u64,
    /// `Channels` subscribers that fell behind and skipped ahead after a `reset` event
    /// ([`Lag::Reset`](crate::Lag::Reset)).
    pub subscribers_reset_lag: u64,
}

/// A snapshot of this process's SSE counters: open streams, events and bytes sent,
/// refused events, heartbeats, how streams ended, slow `Channels` subscribers.
///
/// The counters are relaxed atomics, added to once per chunk and once per stream (an
/// event only increments a counter of its own stream), so they cost the event path
/// nothing measurable. [`Metrics::to_prometheus`] renders them for a `/metrics` endpoint:
///
/// ```
/// use actix_web::{get, HttpResponse};
///
/// #[get("/metrics")]
/// async fn metrics() -> HttpResponse {
///     HttpResponse::Ok()
///         .content_type("text/plain; version=0.0.4")
///         .body(actix_sse::metrics().to_prometheus())
/// }
/// # let _ = actix_web::App::new().service(metrics);
/// ```
pub fn metrics() -> Metrics {
    let c = &COUNTERS;
    // The ends first: a stream's end is counted after its start, so `opened` read last is
    // never below them.
    let ended_disconnect = c.ended_disconnect.load(Relaxed);
    let ended_close = c.ended_close.load(Relaxed);
    let ended_error = c.ended_error.load(Relaxed);
    let ended_panic = c.ended_panic.load(Relaxed);
    let streams_opened = c.streams_opened.load(Relaxed);
    let ended = ended_disconnect + ended_close + ended_error + ended_panic;
    Metrics {
        streams_open: streams_opened.saturating_sub(ended),
        streams_opened,
        events_sent: c.events_sent.load(Relaxed),
        bytes_sent: c.bytes_sent.load(Relaxed),
        events_refused: c.events_refused.load(Relaxed),
        heartbeats: c.heartbeats.load(Relaxed),
        ended_disconnect,
        ended_close,
        ended_error,
        ended_panic,
        subscribers_ended_lag: c.subscribers_ended_lag.load(Relaxed),
        subscribers_reset_lag: c.subscribers_reset_lag.load(Relaxed),
    }
}

impl Metrics {
    /// The counters in the Prometheus text exposition format (version 0.0.4), every name
    /// prefixed `actix_sse_`: serve it as `text/plain; version=0.0.4` (see [`metrics()`]).
    ///
    /// ```text
    /// # HELP actix_sse_streams_open Event streams open now.
    /// # TYPE actix_sse_streams_open gauge
    /// actix_sse_streams_open 3
    /// # HELP actix_sse_streams_opened_total Event streams opened (a 200 head sent).
    /// # TYPE actix_sse_streams_opened_total counter
    /// actix_sse_streams_opened_total 17
    /// ...
    /// actix_sse_streams_ended_total{reason="disconnect"} 9
    /// actix_sse_streams_ended_total{reason="close"} 5
    /// ...
    /// ```
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        self.write_prometheus(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn write_prometheus(&self, out: &mut String) -> fmt::Result {
        let mut metric = |name: &str, kind: &str, help: &str, values: &[(&str, u64)]| {
            writeln!(out, "# HELP actix_sse_{name} {help}")?;
            writeln!(out, "# TYPE actix_sse_{name} {kind}")?;
            for (labels, value) in values {
                writeln!(out, "actix_sse_{name}{labels} {value}")?;
            }
            Ok::<(), fmt::Error>(())
        };
        metric(
            "streams_open",
            "gauge",
            "Event streams open now.",
            &[("", self.streams_open)],
        )?;
        metric(
            "streams_opened_total",
            "counter",
            "Event streams opened (a 200 head sent).",
            &[("", self.streams_opened)],
        )?;
        metric(
            "streams_ended_total",
            "counter",
            "Event streams ended, by reason.",
            &[
                ("{reason=\"disconnect\"}", self.ended_disconnect),
                ("{reason=\"close\"}", self.ended_close),
                ("{reason=\"error\"}", self.ended_error),
                ("{reason=\"panic\"}", self.ended_panic),
            ],
        )?;
        metric(
            "events_sent_total",
            "counter",
            "Events sent.",
            &[("", self.events_sent)],
        )?;
        metric(
            "bytes_sent_total",
            "counter",
            "Bytes of event-stream body sent.",
            &[("", self.bytes_sent)],
        )?;
        metric(
            "events_refused_total",
            "counter",
            "Events refused (invalid field, serializer error), not sent.",
            &[("", self.events_refused)],
        )?;
        metric(
            "heartbeats_total",
            "counter",
            "Heartbeats sent.",
            &[("", self.heartbeats)],
        )?;
        metric(
            "channel_subscribers_lagged_total",
            "counter",
            "Channels subscribers that fell behind, by what happened to them.",
            &[
                ("{outcome=\"ended\"}", self.subscribers_ended_lag),
                ("{outcome=\"reset\"}", self.subscribers_reset_lag),
            ],
        )
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
