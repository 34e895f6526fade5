//! Per-user notifications on [`Channels`]: every user has a topic of their own, plus one
//! topic for announcements to everybody. A user's stream subscribes to both at once and
//! resumes from its `Last-Event-ID` across both.
//!
//! ```text
//! cargo run --example notifications      # serves on 127.0.0.1:8084 (PORT to change)
//! curl -N http://127.0.0.1:8084/notifications/ada
//! curl -H 'content-type: application/json' -d '{"title":"build passed","body":"#42 is green"}' \
//!      http://127.0.0.1:8084/notify/ada
//! curl -H 'content-type: application/json' -d '{"title":"maintenance at 6pm"}' \
//!      http://127.0.0.1:8084/notify
//! ```
//!
//! Notifications are JSON, written by the `Json` serializer with the event type
//! `notification`. History keeps each user's last 100 for an hour; a sweep task frees the
//! topics of users who have gone.

use std::time::Duration;

use actix_sse::prelude::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};

/// Topic of announcements that every user's stream includes.
const EVERYONE: &str = "everyone";

fn user_topic(user: &str) -> String {
    format!("user/{user}")
}

/// What `POST /notify/{user}` and `POST /notify` take, and what streams carry.
#[derive(Serialize, Deserialize)]
struct Notification {
    title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    body: String,
}

#[sse("/notifications/{user}", heartbeat = "30s")]
async fn notifications(
    user: web::Path<String>,
    hub: web::Data<Channels>,
    last: LastEventId,
) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe_many(&[user_topic(&user).as_str(), EVERYONE], &last)
        .await
}

async fn publish(hub: &Channels, topic: &str, note: &Notification) -> HttpResponse {
    let fields = Event::new().event("notification");
    match hub.publish_serialized(topic, note, &Json, fields).await {
        Ok(id) => HttpResponse::Accepted().body(id.to_string()),
        Err(err) => HttpResponse::BadRequest().body(err.to_string()),
    }
}

/// Notifies one user; answers `202 Accepted` with the notification's id.
async fn notify_user(
    user: web::Path<String>,
    hub: web::Data<Channels>,
    note: web::Json<Notification>,
) -> HttpResponse {
    publish(&hub, &user_topic(&user), &note).await
}

/// Notifies every user.
async fn notify_everyone(hub: web::Data<Channels>, note: web::Json<Notification>) -> HttpResponse {
    publish(&hub, EVERYONE, &note).await
}

/// The routes; the hub comes from `web::Data<Channels>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(notifications)
        .route("/notify/{user}", web::post().to(notify_user))
        .route("/notify", web::post().to(notify_everyone));
}

/// A hub that keeps each user's last 100 notifications for an hour.
pub fn hub() -> Channels {
    Channels::builder()
        .history_events(100)
        .history_age(Duration::from_secs(3600))
        .build()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8084);
    let hub = hub();
    // Age is trimmed when a topic is used; the sweep also frees topics nobody uses.
    let sweeper = hub.clone();
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            sweeper.sweep();
        }
    });
    let hub = web::Data::new(hub);
    let server = HttpServer::new(move || App::new().app_data(hub.clone()).configure(configure))
        // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
        .sse_defaults()
        .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("notifications: curl -N http://{addr}/notifications/ada (Ctrl-C to stop)");
    }
    server.run().await
}
