//! **ours**: actix-web + actix-sse, written as users write it: `#[sse]` handlers with
//! `send!`. The runtime is used directly where a setting comes from the query that the
//! attribute fixes at compile time: `/idle` with another heartbeat than 1 s (or `fn=1`, to
//! compare the two) and `/stream?buf=..` (buffer size, for experiments).
//!
//! Besides the common endpoints, ours serves its own fan-out hub, [`Channels`], as users
//! use it: `/hub` is an `#[sse]` handler returning the subscription of one topic, and
//! `/hub_publish` publishes one stamped message to that topic and answers the number of
//! subscribers it had. (`/fanout` relays a `tokio::sync::broadcast` with `send!`, as the
//! other contestants do.)

use std::{
    rc::Rc,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use actix_sse::{prelude::*, Sse};
use actix_web::{web, Either, HttpRequest, HttpResponse, Responder};

use super::{actix_serve, Hub};
use crate::proto::{fanout_message, payload, Params, SLOW_PER_TICK};

type OurHub = Hub<Arc<str>>;

/// The topic of `/hub` and `/hub_publish`.
const TOPIC: &str = "scale";

/// What ours' handlers share: the broadcast of `/fanout` and the `Channels` hub of `/hub`.
struct State {
    relay: OurHub,
    channels: Channels,
    /// The next `/hub_publish` message number.
    hub_seq: AtomicU64,
}

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    let state = State {
        relay: OurHub::new(),
        channels: Channels::new(),
        hub_seq: AtomicU64::new(0),
    };
    actix_serve(port, state, |cfg| {
        cfg.route("/stream", web::get().to(stream))
            .route("/idle", web::get().to(idle))
            .route("/fanout", web::get().to(fanout))
            .route("/publish", web::get().to(publish))
            .route("/slow", web::get().to(slow))
            .route("/hub", web::get().to(hub_sub))
            .route("/hub_publish", web::get().to(hub_publish));
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
async fn fanout(state: web::Data<State>) -> Result<(), SendError> {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = state.relay.tx.subscribe();
    loop {
        match rx.recv().await {
            Ok(m) => send!(&*m)?,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

async fn publish(state: web::Data<State>) -> HttpResponse {
    let n = state.relay.publish(Arc::from);
    HttpResponse::Ok().body(n.to_string())
}

/// The hub's subscription is the stream, as in the guide.
#[sse]
async fn hub_sub(state: web::Data<State>, last: LastEventId) -> impl Stream<Item = ChannelEvent> {
    state.channels.subscribe(TOPIC, &last).await
}

async fn hub_publish(state: web::Data<State>) -> HttpResponse {
    let reached = state.channels.subscriber_count(TOPIC);
    let seq = state.hub_seq.fetch_add(1, Ordering::Relaxed);
    match state.channels.publish(TOPIC, fanout_message(seq)).await {
        Ok(_) => HttpResponse::Ok().body(reached.to_string()),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
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
