//! **plain**: actix-web with `HttpResponse::Ok().streaming(..)` of pre-framed bytes, one
//! chunk per event, and a pending stream plus a timer for `/idle`: what actix-web itself
//! costs, without any SSE layer. The baseline for idle memory.

use std::{convert::Infallible, time::Duration};

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::{stream, Stream, StreamExt as _};

use super::{actix_serve, broadcast_stream, repeat_n, slow_stream, Hub};
use crate::proto::{frame, frame_with_id, payload, Params};

type PlainHub = Hub<Bytes>;

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    actix_serve(port, PlainHub::new(), |cfg| {
        cfg.route("/stream", web::get().to(stream))
            .route("/idle", web::get().to(idle))
            .route("/fanout", web::get().to(fanout))
            .route("/publish", web::get().to(publish))
            .route("/slow", web::get().to(slow));
    })
}

fn respond<S>(body: S) -> HttpResponse
where
    S: Stream<Item = Bytes> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body.map(Ok::<_, Infallible>))
}

/// A heartbeat (`:\n`) every `period`, and nothing else.
fn ticks(period: Duration) -> impl Stream<Item = Bytes> {
    let iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    stream::unfold(iv, |mut iv| async move {
        iv.tick().await;
        Some((Bytes::from_static(b":\n"), iv))
    })
}

async fn stream(req: HttpRequest) -> HttpResponse {
    let p = Params::parse(req.query_string());
    if !p.ids {
        return respond(repeat_n(Bytes::from(frame(&payload(p.size))), p.n));
    }
    // One pre-framed chunk per event, each cut from a shared arena: the same bytes as the
    // SSE contestants, with as little work per event as actix-web allows.
    let data = payload(p.size);
    let mut arena = BytesMut::new();
    respond(stream::iter(0..p.n).map(move |i| {
        if arena.capacity() - arena.len() < data.len() + 32 {
            arena.reserve(64 * 1024);
        }
        frame_with_id(&mut arena, i, &data);
        arena.split().freeze()
    }))
}

async fn idle(req: HttpRequest) -> HttpResponse {
    let p = Params::parse(req.query_string());
    respond(ticks(p.heartbeat()))
}

async fn fanout(hub: web::Data<PlainHub>) -> HttpResponse {
    let rx = hub.tx.subscribe();
    respond(broadcast_stream(rx))
}

async fn publish(hub: web::Data<PlainHub>) -> HttpResponse {
    let n = hub.publish(|m| Bytes::from(frame(&m)));
    HttpResponse::Ok().body(n.to_string())
}

async fn slow(req: HttpRequest) -> HttpResponse {
    let p = Params::parse(req.query_string());
    respond(slow_stream(
        Bytes::from(frame(&payload(p.size))),
        p.slow_duration(),
    ))
}
