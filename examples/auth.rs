//! Notifications for the signed-in user: who they are comes from their session token, in an
//! `Authorization: Bearer <token>` header (fetch, curl, other servers) or a `session` cookie
//! (a browser's `EventSource`, which cannot set headers), never from the URL. Without a
//! valid token the answer is `401 Unauthorized`, before any stream starts.
//!
//! ```text
//! cargo run --example auth     # serves on 127.0.0.1:8088 (PORT to change)
//! curl -N -H 'Authorization: Bearer ada-token' http://127.0.0.1:8088/notifications
//! curl -N -b 'session=bob-token' http://127.0.0.1:8088/notifications
//! curl -i http://127.0.0.1:8088/notifications                # 401
//! curl -d 'build passed' http://127.0.0.1:8088/notify/ada    # only ada's stream gets it
//! ```
//!
//! The check is an extractor, `User`: a handler that takes one only runs for a signed-in
//! user, and the extractor's error is the response, as in any actix-web handler. Each user
//! has a topic on [`Channels`]; a reconnecting client resumes from its `Last-Event-ID`.
//! The tokens are a fixed demo map (`ada-token`, `bob-token`); a real application looks
//! its sessions up in its own store. `POST /notify/{user}` stands for the application's
//! own code publishing; it would not be open to everyone.
//!
//! In a browser, the cookie set at sign-in goes with `new EventSource("/notifications")`
//! on the same origin (and cross-origin with `{ withCredentials: true }`).

use std::{
    collections::HashMap,
    future::{ready, Ready},
};

use actix_sse::prelude::*;
use actix_web::{
    dev::Payload, error::InternalError, http::header, web, App, FromRequest, HttpRequest,
    HttpResponse, HttpServer,
};

/// Session tokens and whose they are: `web::Data<Sessions>` in the app.
pub struct Sessions(HashMap<String, String>);

impl Sessions {
    /// The demo's fixed sessions: `ada-token` is ada's, `bob-token` is bob's.
    pub fn demo() -> Self {
        Self(HashMap::from([
            ("ada-token".to_owned(), "ada".to_owned()),
            ("bob-token".to_owned(), "bob".to_owned()),
        ]))
    }

    fn user(&self, token: &str) -> Option<&str> {
        self.0.get(token).map(String::as_str)
    }
}

/// The signed-in user, from the request's bearer token or `session` cookie; `401` without
/// a known one.
pub struct User(String);

impl User {
    /// This user's own topic.
    fn topic(&self) -> String {
        format!("user/{}", self.0)
    }
}

impl FromRequest for User {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(sessions) = req.app_data::<web::Data<Sessions>>() else {
            // As actix-web's own `web::Data` does when the app lacks it.
            let missing = "`web::Data<Sessions>` is not in the app";
            return ready(Err(actix_web::error::ErrorInternalServerError(missing)));
        };
        let user = bearer(req)
            .or_else(|| cookie(req, "session"))
            .and_then(|token| sessions.user(token));
        ready(match user {
            Some(user) => Ok(User(user.to_owned())),
            None => Err(unauthorized()),
        })
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name` in the `Cookie` header(s).
fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// `401` with the `WWW-Authenticate` challenge it must carry (RFC 9110).
fn unauthorized() -> actix_web::Error {
    let message = "sign in: `Authorization: Bearer <token>` or a `session` cookie";
    let response = HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .body(message);
    InternalError::from_response(message, response).into()
}

/// The signed-in user's notifications: what they missed since their `Last-Event-ID`, then
/// live ones.
#[sse("/notifications", heartbeat = "30s")]
async fn notifications(
    user: User,
    hub: web::Data<Channels>,
    last: LastEventId,
) -> impl Stream<Item = ChannelEvent> {
    hub.subscribe(&user.topic(), &last).await
}

/// Publishes the body to one user; answers `202 Accepted` with the notification's id.
async fn notify(user: web::Path<String>, hub: web::Data<Channels>, body: String) -> HttpResponse {
    let event = Event::data(body).event("notification");
    match hub.publish(&format!("user/{user}"), event).await {
        Ok(id) => HttpResponse::Accepted().body(id.to_string()),
        Err(err) => HttpResponse::BadRequest().body(err.to_string()),
    }
}

/// The routes; the hub and the sessions come from `web::Data<Channels>` and
/// `web::Data<Sessions>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(notifications)
        .route("/notify/{user}", web::post().to(notify));
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8088);
    let hub = web::Data::new(Channels::new());
    let sessions = web::Data::new(Sessions::demo());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(hub.clone())
            .app_data(sessions.clone())
            .configure(configure)
    })
    // Vanished clients noticed at once; SIGINT/SIGTERM end every stream cleanly, then stop.
    .sse_defaults()
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("auth: curl -N -H 'Authorization: Bearer ada-token' http://{addr}/notifications (Ctrl-C to stop)");
    }
    server.run().await
}
