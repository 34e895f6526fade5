//! The `tracing` feature: one `sse_stream` span per stream, a child of tracing-actix-web's
//! request span, entered while the handler runs (its own events are in it), and closed
//! when the stream ends with the route, the method, how it ended and the events and bytes
//! it sent. Seen by a real `tracing-subscriber` registry on a real server.

mod common;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use actix_sse::prelude::*;
use actix_web::{error::ErrorForbidden, web, App};
use common::{events, within};
use futures_util::StreamExt;
use tracing::{
    field::{Field, Visit},
    span, Subscriber,
};
use tracing_subscriber::{layer::Context, prelude::*, registry::LookupSpan, Layer};

/// A span as the subscriber saw it.
#[derive(Debug, Clone, Default)]
struct Seen {
    name: String,
    parent: Option<String>,
    fields: BTreeMap<String, String>,
    closed: bool,
    /// Messages of the events logged inside it.
    events: Vec<String>,
}

#[derive(Clone, Default)]
struct Record(Arc<Mutex<BTreeMap<u64, Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Record {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut seen = Seen {
            name: attrs.metadata().name().to_owned(),
            parent: ctx
                .span(id)
                .and_then(|s| s.parent())
                .map(|p| p.name().to_owned()),
            ..Seen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.0.lock().unwrap().insert(id.into_u64(), seen);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, _: Context<'_, S>) {
        if let Some(seen) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        if let Some(seen) = self.0.lock().unwrap().get_mut(&span.id().into_u64()) {
            seen.events
                .push(fields.remove("message").unwrap_or_default());
        }
    }

    fn on_close(&self, id: span::Id, _: Context<'_, S>) {
        if let Some(seen) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            seen.closed = true;
        }
    }
}

impl Record {
    fn streams(&self) -> Vec<Seen> {
        let spans = self.0.lock().unwrap();
        spans
            .values()
            .filter(|s| s.name == "sse_stream")
            .cloned()
            .collect()
    }
}

#[sse("/rooms/{room}")]
async fn room(room: web::Path<String>) -> actix_web::Result<()> {
    if room.as_str() == "secret" {
        return Err(ErrorForbidden("no"));
    }
    tracing::info!("opening {room}");
    for i in 0..3 {
        send!(format!("{room} {i}"), id = i)?;
    }
    Ok(())
}

#[actix_web::test]
async fn one_span_per_stream_under_the_request_span_with_its_totals() {
    let record = Record::default();
    // Global: the server's worker is a thread of its own. The only test of this binary.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(record.clone()))
        .unwrap();
    let (addr, _srv) = serve!(|| App::new()
        .wrap(tracing_actix_web::TracingLogger::default())
        .service(room));

    let (status, _, evs) = events(&format!("http://{addr}/rooms/lobby"), &[]).await;
    assert_eq!(status, 200);
    let got: Vec<_> = within(5, "the stream", evs.collect::<Vec<_>>()).await;
    assert_eq!(got.len(), 3);
    let (status, _, _) = events(&format!("http://{addr}/rooms/secret"), &[]).await;
    assert_eq!(status, 403);

    // The spans close when their bodies are dropped, just after the last chunk.
    let start = std::time::Instant::now();
    while record.streams().iter().any(|s| !s.closed) || record.streams().len() < 2 {
        assert!(start.elapsed().as_secs() < 5, "{:?}", record.streams());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let streams = record.streams();
    let lobby = streams
        .iter()
        .find(|s| s.fields.get("end").map(String::as_str) == Some("close"))
        .unwrap_or_else(|| panic!("{streams:?}"));
    assert_eq!(lobby.parent.as_deref(), Some("HTTP request"), "{lobby:?}");
    assert_eq!(lobby.fields["route"], "/rooms/{room}");
    assert_eq!(lobby.fields["method"], "GET");
    assert_eq!(lobby.fields["events"], "3");
    let bytes: usize = lobby.fields["bytes"].parse().unwrap();
    assert_eq!(bytes, "id: 0\ndata: lobby 0\n\n".len() * 3);
    // The handler's own event is in the stream's span.
    assert_eq!(lobby.events, ["opening lobby"]);

    let secret = streams
        .iter()
        .find(|s| s.fields.get("end").map(String::as_str) == Some("answer"))
        .unwrap_or_else(|| panic!("{streams:?}"));
    assert_eq!(secret.parent.as_deref(), Some("HTTP request"));
    assert!(
        !secret.fields.contains_key("route"),
        "no stream went out: {secret:?}"
    );
}
