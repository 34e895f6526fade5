//! Stream-style handlers: `-> impl Stream<Item = ..>` with events, strings, `Result`s, and
//! a serializer.
#![deny(warnings)]

use actix_sse::{prelude::*, Stream};
use actix_web::{web, App};

#[sse("/events", heartbeat = "15s")]
async fn events() -> impl Stream<Item = Event> {
    async_stream::stream! {
        for i in 0..3 {
            yield Event::data(format!("tick {i}")).id(i);
        }
    }
}

#[sse("/strings")]
async fn strings(name: web::Path<String>) -> impl Stream<Item = String> {
    let name = name.into_inner();
    futures_util::stream::iter(vec![format!("hello {name}")])
}

#[sse]
async fn fallible() -> impl Stream<Item = Result<Event, std::io::Error>> {
    futures_util::stream::iter(vec![Ok(Event::data("ok"))])
}

#[derive(serde::Serialize)]
struct Tick {
    n: u32,
}

#[sse("/json", serialize = json, retry = "3s")]
async fn json() -> impl Stream<Item = Tick> {
    futures_util::stream::iter((0..3).map(|n| Tick { n }))
}

fn to_text(t: &Tick) -> String {
    t.n.to_string()
}

#[sse("/text", serialize = to_text)]
async fn text() -> futures_util::stream::BoxStream<'static, Tick> {
    Box::pin(futures_util::stream::iter((0..3).map(|n| Tick { n })))
}

pub fn main() {
    let _app = App::new()
        .service(events)
        .service(strings)
        .service(json)
        .service(text)
        .route("/fallible", web::get().to(fallible));
}
