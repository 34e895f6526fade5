//! **ours**: actix-web + actix-sse, written as users write it: `#[sse]` handlers with
//! `send!`. The runtime is used directly where a setting comes from the query that the
//! attribute fixes at compile time: `/idle` with another heartbeat than 1 s (or `fn=1`, to
//! compare the two) and `/stream?buf=..` (buffer size, for experiments).

use std::{rc::Rc, sync::Arc, time::Duration};

use actix_sse::{prelude::*, Sse};
use actix_web::{web, Either, HttpRequest, HttpResponse, Responder};

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

#[sse]
async fn stream_events(req: HttpRequest) -> Result<(), SendError> {
    let p = Params::parse(req.query_string());
    let data = payload(p.size);
    if p.ids {
        for i in 0..p.n {
            send!(data.as_str(), id = i)?;
        }
    } else {
        for _ in 0..p.n {
            send!(data.as_str())?;
        }
    }
    Ok(())
}

async fn stream(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    let Some(buf) = p.buf else {
        return Either::Left(stream_events(req).await);
    };
    let data = payload(p.size);
    Either::Right(
        Sse::from_fn(move |tx| async move {
            for i in 0..p.n {
                if p.ids {
                    tx.send_with(data.as_str(), actix_sse::Fields::new().id(i))
                        .await?;
                } else {
                    tx.send(data.as_str()).await?;
                }
            }
            Ok::<(), SendError>(())
        })
        .buffer_size(buf),
    )
}

/// An idle stream as users write it: heartbeats only.
#[sse(heartbeat = "1s")]
async fn idle_events() {
    std::future::pending::<()>().await
}

async fn idle(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    if p.heartbeat() == Duration::from_secs(1) && !p.from_fn {
        return Either::Left(idle_events().await);
    }
    Either::Right(
        Sse::from_fn(|tx| async move {
            let _tx = tx;
            std::future::pending::<()>().await
        })
        .heartbeat(p.heartbeat()),
    )
}

#[sse]
async fn fanout(hub: web::Data<OurHub>) -> Result<(), SendError> {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = hub.tx.subscribe();
    loop {
        match rx.recv().await {
            Ok(m) => send!(&*m)?,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

async fn publish(hub: web::Data<OurHub>) -> HttpResponse {
    let n = hub.publish(Arc::from);
    HttpResponse::Ok().body(n.to_string())
}

#[sse]
async fn slow(req: HttpRequest) -> Result<(), SendError> {
    let p = Params::parse(req.query_string());
    let data: Rc<str> = payload(p.size).into();
    let deadline = tokio::time::Instant::now() + p.slow_duration();
    let mut iv = tokio::time::interval(std::time::Duration::from_millis(1));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while tokio::time::Instant::now() < deadline {
        iv.tick().await;
        for _ in 0..SLOW_PER_TICK {
            send!(&*data)?;
        }
    }
    Ok(())
}
