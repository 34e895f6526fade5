//! **ours**: actix-web + sse-runtime, written as the `#[sse]` macro expands:
//! `Sse::from_fn(|tx| async move { tx.send(..).await })`.

use std::{rc::Rc, sync::Arc};

use actix_web::{web, HttpRequest, HttpResponse, Responder};
use sse_runtime::Sse;

use super::{actix_serve, Hub};
use crate::proto::{payload, Params, SLOW_PER_TICK};

type OurHub = Hub<Arc<str>>;

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    actix_serve(port, OurHub::new(), |cfg| {
        cfg.route("/stream", web::get().to(stream))
            .route("/idle", web::get().to(idle))
            .route("/fanout", web::get().to(fanout))
            .route("/publish", web::get().to(publish))
            .route("/slow", web::get().to(slow));
    })
}

async fn stream(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    let data = payload(p.size);
    let sse = Sse::from_fn(move |tx| async move {
        for _ in 0..p.n {
            tx.send(data.as_str()).await?;
        }
        Ok::<(), sse_runtime::SendError>(())
    });
    match p.buf {
        Some(b) => sse.buffer_size(b),
        None => sse,
    }
}

async fn idle(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    Sse::from_fn(|tx| async move {
        let _tx = tx;
        std::future::pending::<()>().await
    })
    .heartbeat(p.heartbeat())
}

async fn fanout(hub: web::Data<OurHub>) -> impl Responder {
    // Subscribed before the response head goes out, so a client that has the head
    // receives every later message.
    let mut rx = hub.tx.subscribe();
    Sse::from_fn(move |tx| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.recv().await {
                Ok(m) => tx.send(&*m).await?,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Ok::<(), sse_runtime::SendError>(()),
            }
        }
    })
}

async fn publish(hub: web::Data<OurHub>) -> HttpResponse {
    let n = hub.publish(Arc::from);
    HttpResponse::Ok().body(n.to_string())
}

async fn slow(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    let data: Rc<str> = payload(p.size).into();
    Sse::from_fn(move |tx| async move {
        let deadline = tokio::time::Instant::now() + p.slow_duration();
        let mut iv = tokio::time::interval(std::time::Duration::from_millis(1));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while tokio::time::Instant::now() < deadline {
            iv.tick().await;
            for _ in 0..SLOW_PER_TICK {
                tx.send(&*data).await?;
            }
        }
        Ok::<(), sse_runtime::SendError>(())
    })
}
