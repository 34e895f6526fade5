//! One `tracing` span per stream (feature `tracing`): `sse_stream`, a child of the span
//! current where the response is built (with `tracing-actix-web`, the request's span),
//! entered whenever the body polls the handler, with the route, the method, and once the
//! stream is over how it ended and the events and bytes it sent. Without the feature,
//! nothing: a zero-sized stand-in.

#[cfg(feature = "tracing")]
mod imp {
    use std::cell::{Cell, RefCell};

    use actix_web::HttpRequest;
    use tracing::{field::Empty, Span};

    pub(crate) struct Trace {
        span: RefCell<Span>,
        events: Cell<u64>,
        bytes: Cell<u64>,
    }

    impl Trace {
        /// The stream's span, under the current one.
        pub(crate) fn new() -> Self {
            let span = tracing::info_span!(
                target: "actix_sse",
                "sse_stream",
                route = Empty,
                method = Empty,
                end = Empty,
                events = Empty,
                bytes = Empty,
            );
            Trace {
                span: RefCell::new(span),
                events: Cell::new(0),
                bytes: Cell::new(0),
            }
        }

        /// Entered while the body polls (the handler's own events are in it).
        #[inline]
        pub(crate) fn enter(&self) -> Option<tracing::span::EnteredSpan> {
            let span = self.span.borrow();
            (!span.is_disabled()).then(|| span.clone().entered())
        }

        /// The head goes out: the route and the method.
        pub(crate) fn started(&self, req: &HttpRequest) {
            let span = self.span.borrow();
            if span.is_disabled() {
                return;
            }
            let route = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
            span.record("route", route.as_str());
            span.record("method", req.method().as_str());
        }

        /// A chunk went out with `events` events.
        #[inline]
        pub(crate) fn chunk(&self, events: u64, bytes: usize) {
            self.events.set(self.events.get() + events);
            self.bytes.set(self.bytes.get() + bytes as u64);
        }

        /// The stream is over (`end`: how): the totals are recorded and the span closes.
        pub(crate) fn end(&self, end: &str) {
            let span = self.span.replace(Span::none());
            if span.is_disabled() {
                return;
            }
            span.record("end", end);
            span.record("events", self.events.get());
            span.record("bytes", self.bytes.get());
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use actix_web::HttpRequest;

    pub(crate) struct Trace;

    /// What `enter` returns: nothing to leave.
    pub(crate) struct Entered;

    impl Trace {
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Trace
        }

        #[inline(always)]
        pub(crate) fn enter(&self) -> Entered {
            Entered
        }

        #[inline(always)]
        pub(crate) fn started(&self, _: &HttpRequest) {}

        #[inline(always)]
        pub(crate) fn chunk(&self, _: u64, _: usize) {}

        #[inline(always)]
        pub(crate) fn end(&self, _: &str) {}
    }
}

pub(crate) use imp::Trace;
