//! A chat room: `POST /say` publishes to a `tokio::sync::broadcast` channel held in
//! `web::Data`; every `GET /chat` stream relays it, with ids so a reconnecting browser
//! can tell what it missed.
//!
//! ```text
//! cargo run --example chat     # then open http://127.0.0.1:8081/ in two tabs
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use actix_sse::prelude::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use tokio::sync::broadcast;

struct Room {
    tx: broadcast::Sender<(u64, String)>,
    next_id: AtomicU64,
}

#[sse("/chat", heartbeat = "15s", retry = "1s")]
async fn chat(room: web::Data<Room>, last: LastEventId) {
    let mut rx = room.tx.subscribe();
    if let Some(id) = last.as_deref() {
        send!(
            format!("welcome back; you last saw message {id}"),
            event = "system"
        );
    }
    loop {
        match rx.recv().await {
            Ok((id, text)) => {
                send!(text, id = id);
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                send!(
                    format!("{n} messages were skipped: you were too slow"),
                    event = "system"
                );
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

async fn say(room: web::Data<Room>, body: String) -> HttpResponse {
    let id = room.next_id.fetch_add(1, Ordering::Relaxed);
    // No subscriber is not an error: the message is simply not heard.
    let _ = room.tx.send((id, body));
    HttpResponse::NoContent().finish()
}

async fn page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        r##"<!doctype html><meta charset="utf-8"><title>chat</title>
<style>body{font:15px system-ui;margin:2em;max-width:40em}#log{border:1px solid #ddd;padding:.5em;height:20em;overflow:auto}</style>
<h1>actix-sse chat</h1><div id="log"></div>
<form id="f"><input id="m" autocomplete="off" placeholder="say something" autofocus> <button>send</button></form>
<script>
const log = document.getElementById("log");
const line = (t, c) => { const d = document.createElement("div"); d.textContent = t; if (c) d.style.color = c; log.append(d); log.scrollTop = 1e9; };
const es = new EventSource("/chat");
es.onmessage = (e) => line(e.lastEventId + ": " + e.data);
es.addEventListener("system", (e) => line(e.data, "#888"));
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const m = document.getElementById("m"); fetch("/say", { method: "POST", body: m.value }); m.value = ""; };
</script>"##,
    )
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let room = web::Data::new(Room {
        tx: broadcast::channel(256).0,
        next_id: AtomicU64::new(0),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(room.clone())
            .route("/", web::get().to(page))
            .route("/say", web::post().to(say))
            .service(chat)
    })
    // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
    .sse_defaults()
    .bind(("127.0.0.1", 8081))?;
    println!("chat: open http://127.0.0.1:8081/ in two tabs");
    server.run().await
}
