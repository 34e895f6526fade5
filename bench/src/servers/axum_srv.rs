//! **axum**: axum 0.8 `Sse` on hyper 1 via `axum::serve`, current-thread tokio runtime.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::Uri,
    response::sse::{Event, KeepAlive, Sse},
    routing::get,
    Router,
};
use futures_util::StreamExt as _;

use super::{broadcast_stream, slow_stream, tokio_listener, Hub};
use crate::proto::{payload, Params};

type AxumHub = Arc<Hub<Arc<str>>>;

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio_listener(port)?;
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/idle", get(idle))
            .route("/fanout", get(fanout))
            .route("/publish", get(publish))
            .route("/slow", get(slow))
            .with_state(AxumHub::default());
        axum::serve(listener, app).await
    })
}

fn params(uri: &Uri) -> Params {
    Params::parse(uri.query().unwrap_or(""))
}

fn data_event(d: Arc<str>) -> Result<Event, Infallible> {
    Ok(Event::default().data(&*d))
}

async fn stream(uri: Uri) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let p = params(&uri);
    let data: Arc<str> = payload(p.size).into();
    let ids = p.ids;
    // Its `Event::id` takes any `AsRef<str>` and writes it into the event's buffer.
    Sse::new(futures_util::stream::iter(0..p.n).map(move |i| {
        let ev = Event::default();
        let ev = if ids {
            ev.id(itoa::Buffer::new().format(i))
        } else {
            ev
        };
        Ok(ev.data(&*data))
    }))
}

async fn idle(uri: Uri) -> impl axum::response::IntoResponse {
    let p = params(&uri);
    Sse::new(futures_util::stream::pending::<Result<Event, Infallible>>())
        .keep_alive(KeepAlive::new().interval(p.heartbeat()))
}

async fn fanout(State(hub): State<AxumHub>) -> impl axum::response::IntoResponse {
    let rx = hub.tx.subscribe();
    Sse::new(broadcast_stream(rx).map(data_event))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn publish(State(hub): State<AxumHub>) -> String {
    hub.publish(Arc::from).to_string()
}

async fn slow(uri: Uri) -> impl axum::response::IntoResponse {
    let p = params(&uri);
    let data: Arc<str> = payload(p.size).into();
    Sse::new(slow_stream(data, p.slow_duration()).map(data_event))
}
