//! A chat room on [`Channels`]: `POST /say` publishes the request body to the `chat` topic,
//! every `GET /chat` stream delivers it with its id. A browser that reconnects sends its
//! `Last-Event-ID` and gets exactly the messages it missed, then live ones.
//!
//! ```text
//! cargo run --example chat     # then open http://127.0.0.1:8081/ in two tabs (PORT to change)
//! curl -N http://127.0.0.1:8081/chat
//! curl -d 'hello' http://127.0.0.1:8081/say
//! curl -N -H 'Last-Event-ID: <an id printed above>' http://127.0.0.1:8081/chat
//! ```
//!
//! A page cannot set `Last-Event-ID` on a new `EventSource`, only the browser does when it
//! reconnects by itself; so `/chat` also takes the id as `?lastEventId=` (as Mercure does),
//! which the page uses when it rejoins after leaving.
//!
//! With `REDIS_URL` set, the room lives in Redis (the `redis` feature of actix-sse): run two
//! instances on two ports and a message said on one reaches the streams of both, and a
//! client resumes on either.
//!
//! ```text
//! redis-server --port 6379 --save '' &
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=8081 cargo run --example chat &
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=8082 cargo run --example chat &
//! ```
//!
//! Behind Sentinel, `REDIS_URL=redis+sentinel://127.0.0.1:26379/mymaster` (sentinel
//! addresses separated by commas) follows the master through failovers.

use actix_sse::{prelude::*, PublishError};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;

/// The one topic of this room.
const ROOM: &str = "chat";

/// `?lastEventId=`: where a page that rejoins wants to resume.
#[derive(Deserialize)]
struct Resume {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

#[sse("/chat", heartbeat = "15s", retry = "1s")]
async fn chat(hub: web::Data<Channels>, last: LastEventId, resume: web::Query<Resume>) {
    // The header (a reconnect by the browser) is newer than the page's query.
    let mut messages = match &resume.last_event_id {
        Some(page) if last.get().is_none() && !last.is_unreadable() => {
            hub.subscribe(ROOM, page).await
        }
        _ => hub.subscribe(ROOM, &last).await,
    };
    // Subscribed first, so this greeting comes after nothing can be missed. No id: a
    // client's position is only moved by messages.
    let here = hub.subscriber_count(ROOM);
    send!(format!("{here} here"), event = "system");
    // Missed messages first (or a `reset` event if they are gone), then live ones.
    while let Some(message) = messages.next().await {
        send!(message);
    }
}

/// Publishes the body as a message; answers with its id, or `503` when the room's
/// backend (Redis) did not take it.
async fn say(hub: web::Data<Channels>, body: String) -> HttpResponse {
    match hub.publish(ROOM, body).await {
        Ok(id) => HttpResponse::Ok().body(id.to_string()),
        Err(err @ (PublishError::Invalid(_) | PublishError::Serialize(_))) => {
            HttpResponse::BadRequest().body(err.to_string())
        }
        Err(err) => HttpResponse::ServiceUnavailable().body(err.to_string()),
    }
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

/// The routes; the hub comes from `web::Data<Channels>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/say", web::post().to(say))
        .service(chat);
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let hub = match std::env::var("REDIS_URL") {
        Ok(url) => Channels::redis(&url).await.map_err(std::io::Error::other)?,
        Err(_) => Channels::new(),
    };
    let hub = web::Data::new(hub);
    let server = HttpServer::new(move || App::new().app_data(hub.clone()).configure(configure))
        // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("chat: open http://{addr}/ in two tabs (Ctrl-C to stop)");
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        println!("chat: the room is in Redis at {url}");
    }
    server.run().await
}

const PAGE: &str = r##"<!doctype html><meta charset="utf-8"><title>actix-sse chat</title><link rel="icon" href="data:,">
<style>body{font:15px system-ui;margin:2em;max-width:40em}#log{border:1px solid #ddd;padding:.5em;height:20em;overflow:auto}.sys{color:#888}</style>
<h1>actix-sse chat</h1>
<p><button id="toggle">leave</button> <span id="status">connecting</span></p>
<div id="log"></div>
<form id="f"><input id="m" autocomplete="off" placeholder="say something" autofocus> <button>send</button></form>
<script>
// Everything the page shows, for people and for the browser test.
const chat = window.chat = { messages: [], system: [], resets: [], lastId: "", es: null };
const log = document.getElementById("log");
const status = document.getElementById("status");
const line = (text, cls) => {
  const d = document.createElement("div");
  d.textContent = text;
  if (cls) d.className = cls;
  log.append(d);
  log.scrollTop = 1e9;
};
chat.join = () => {
  // After leaving, resume where this page stopped: the browser only sends Last-Event-ID
  // itself when it reconnects on its own.
  const url = chat.lastId ? "/chat?lastEventId=" + encodeURIComponent(chat.lastId) : "/chat";
  const es = chat.es = new EventSource(url);
  es.onopen = () => { status.textContent = "connected"; };
  es.onerror = () => { status.textContent = "reconnecting"; };
  es.onmessage = (e) => {
    chat.lastId = e.lastEventId;
    chat.messages.push({ id: e.lastEventId, text: e.data });
    line(e.lastEventId + ": " + e.data);
  };
  es.addEventListener("system", (e) => { chat.system.push(e.data); line(e.data, "sys"); });
  es.addEventListener("reset", (e) => {
    chat.lastId = e.lastEventId;
    chat.resets.push(e.data);
    line("some messages were missed (" + e.data + ")", "sys");
  });
  document.getElementById("toggle").textContent = "leave";
};
chat.leave = () => {
  chat.es.close();
  chat.es = null;
  status.textContent = "left";
  document.getElementById("toggle").textContent = "rejoin";
};
chat.say = (text) => fetch("/say", { method: "POST", body: text }).then((r) => r.text());
document.getElementById("toggle").onclick = () => (chat.es ? chat.leave() : chat.join());
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const m = document.getElementById("m");
  chat.say(m.value);
  m.value = "";
};
chat.join();
</script>"##;
