//! Relaying with `actix_sse::client`: an `#[sse]` handler that reads an upstream stream and
//! sends each event on with `send!(ev)` (under `serialize = json` too) writes the same
//! bytes as the upstream; a downstream client that does not read holds the upstream back;
//! one that leaves gets the upstream request dropped, measured on the upstream side.
//! Real servers on 127.0.0.1, bounded waits.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_sse::client::EventSource;
use actix_sse::prelude::*;
use actix_web::{web, App};
use common::{raw_request, within};
use futures_util::StreamExt;

/// Every kind of field: a type, an id, a retry, multi-line and empty data, an id reset, a
/// `retry`-only block, an event without id (the last id stays), non-ASCII.
#[sse("/up", heartbeat = "off")]
async fn upstream() {
    send!(Event::data("line 1\nline 2")
        .event("update")
        .id("1")
        .retry(Duration::from_millis(250)));
    send!("no id");
    send!(Event::data("").event("ns:évé-🎉").id("ü-2"));
    send!(Event::new().retry(Duration::from_secs(3)));
    send!(Event::data(" spaced ").id(""));
    send!(Event::data(":not a comment\n\nx"));
}

struct Upstream(String);

/// Sends on what the upstream sends, under a serializer: client events go raw.
#[sse("/relay", heartbeat = "off", serialize = json)]
async fn relay(up: web::Data<Upstream>) {
    let mut events = match EventSource::get(up.0.as_str())
        .show_retry(true)
        .max_reconnects(0)
        .connect()
        .await
    {
        Ok(events) => events,
        Err(e) => panic!("the relay's upstream: {e}"),
    };
    while let Some(Ok(ev)) = events.next().await {
        send!(ev);
    }
}

async fn body(url: &str) -> Vec<u8> {
    let mut res = within(5, "head", awc::Client::new().get(url).send())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    within(5, "body", res.body().limit(1 << 20))
        .await
        .unwrap()
        .to_vec()
}

// The relayed stream is the upstream's, byte for byte (both canonical encodings).
#[actix_web::test]
async fn a_relayed_event_goes_out_as_it_came() {
    let (up, _up) = serve!(|| App::new().service(upstream));
    let target = web::Data::new(Upstream(format!("http://{up}/up")));
    let (down, _down) = serve!(move || App::new().app_data(target.clone()).service(relay));
    let original = body(&format!("http://{up}/up")).await;
    let relayed = body(&format!("http://{down}/relay")).await;
    assert_eq!(
        String::from_utf8_lossy(&relayed),
        String::from_utf8_lossy(&original)
    );
    assert!(original.starts_with(b"event: update\nid: 1\nretry: 250\ndata: line 1\n"));
}

/// Counts the events it sent and records when its future was dropped.
struct Dropped(Arc<Mutex<Option<Instant>>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(Instant::now());
    }
}

#[derive(Clone, Default)]
struct Probe {
    sent: Arc<AtomicUsize>,
    dropped: Arc<Mutex<Option<Instant>>>,
}

/// The upstream's events: `size` bytes, one every `every` ms (0: as fast as it can).
#[derive(Clone, Copy)]
struct Pace {
    size: usize,
    every: u64,
}

/// Endless events of `size` bytes, one every `every`; counts them, records its drop.
async fn endless(probe: web::Data<Probe>, pace: web::Data<Pace>) -> impl actix_web::Responder {
    let Pace { size, every } = **pace;
    Sse::from_fn(move |tx| async move {
        let _guard = Dropped(probe.dropped.clone());
        let data = "x".repeat(size);
        loop {
            tx.send(data.as_str()).await?;
            probe.sent.fetch_add(1, Ordering::SeqCst);
            if every > 0 {
                tokio::time::sleep(Duration::from_millis(every)).await;
            }
        }
        #[allow(unreachable_code)]
        Ok::<_, SendError>(())
    })
}

/// Starts the upstream and the relay; returns the relay's address and the probe.
fn relay_pair(pace: Pace) -> (std::net::SocketAddr, Probe, impl Drop) {
    let probe = Probe::default();
    let data = web::Data::new(probe.clone());
    let pace = web::Data::new(pace);
    let (up, up_srv) = serve!(move || App::new()
        .app_data(data.clone())
        .app_data(pace.clone())
        .route("/endless", web::get().to(endless)));
    let target = web::Data::new(Upstream(format!("http://{up}/endless")));
    let (down, down_srv) = serve!(move || App::new().app_data(target.clone()).service(relay));
    struct Servers(Vec<actix_web::dev::ServerHandle>);
    impl Drop for Servers {
        fn drop(&mut self) {
            for s in &self.0 {
                drop(s.stop(false));
            }
        }
    }
    (down, probe, Servers(vec![up_srv, down_srv]))
}

/// Waits (bounded) until the upstream handler is dropped; how long after `since`.
async fn upstream_dropped(probe: &Probe, since: Instant) -> Duration {
    within(5, "the upstream handler dropped", async {
        loop {
            if let Some(at) = *probe.dropped.lock().unwrap() {
                return at.duration_since(since);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

// A downstream client that reads slowly or not at all slows the upstream (bounded memory
// end to end); when it leaves, the upstream request goes within 1 s.
#[actix_web::test]
async fn a_slow_downstream_holds_the_upstream_back_and_its_leaving_drops_it() {
    let (down, probe, _servers) = relay_pair(Pace {
        size: 64 << 10,
        every: 0,
    });
    let (conn, head, _) = raw_request(down, "GET", "/relay", "", "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Not reading: the upstream fills the sockets' buffers and the relay's, then waits.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let held = probe.sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = probe.sent.load(Ordering::SeqCst);
    assert!(
        held > 0 && later < 400,
        "{held} then {later} events of 64 KiB sent"
    );
    assert!(
        later - held < 10,
        "the upstream is held back: {held} then {later}"
    );

    let left = Instant::now();
    drop(conn);
    let after = upstream_dropped(&probe, left).await;
    eprintln!("upstream dropped {after:?} after the downstream left (stalled stream)");
    assert!(after < Duration::from_secs(1), "{after:?}");
}

// The usual gateway case: events flow slowly (one every 50 ms); the downstream client
// leaves between two of them.
#[actix_web::test]
async fn a_downstream_that_leaves_drops_the_upstream_within_a_second() {
    let (down, probe, _servers) = relay_pair(Pace {
        size: 64,
        every: 50,
    });
    let (mut conn, head, _) = raw_request(down, "GET", "/relay", "", "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    while probe.sent.load(Ordering::SeqCst) < 3 {
        within(5, "relayed events", conn.read(&mut buf))
            .await
            .unwrap();
    }
    let left = Instant::now();
    drop(conn);
    let after = upstream_dropped(&probe, left).await;
    eprintln!("upstream dropped {after:?} after the downstream left (flowing stream)");
    assert!(after < Duration::from_secs(1), "{after:?}");
}
