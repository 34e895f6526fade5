//! **lab**: actix-web + actix-web-lab 0.29 `sse::Sse` from a stream (its fastest path: no
//! channel between producer and body).

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse, Responder};
use actix_web_lab::sse::{Data, Event, Sse};
use bytestring::ByteString;
use futures_util::{stream, StreamExt as _};

use super::{actix_serve, broadcast_stream, slow_stream, Hub};
use crate::proto::{payload, Params};

type LabHub = Hub<ByteString>;

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    actix_serve(port, LabHub::new(), |cfg| {
        cfg.route("/stream", web::get().to(stream))
            .route("/idle", web::get().to(idle))
            .route("/fanout", web::get().to(fanout))
            .route("/publish", web::get().to(publish))
            .route("/slow", web::get().to(slow));
    })
}

fn data_event(d: ByteString) -> Event {
    Event::Data(Data::new(d))
}

async fn stream(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    let data = ByteString::from(payload(p.size));
    let ids = p.ids;
    // Its `Data::id` takes an owned `ByteString`: one small allocation per id.
    let events = stream::iter(0..p.n).map(move |i| {
        let d = Data::new(data.clone());
        Event::Data(if ids {
            d.id(itoa::Buffer::new().format(i))
        } else {
            d
        })
    });
    Sse::from_infallible_stream(events)
}

async fn idle(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    Sse::from_infallible_stream(futures_util::stream::pending::<Event>())
        .with_keep_alive(p.heartbeat())
}

async fn fanout(hub: web::Data<LabHub>) -> impl Responder {
    let rx = hub.tx.subscribe();
    Sse::from_infallible_stream(broadcast_stream(rx).map(data_event))
        .with_keep_alive(Duration::from_secs(15))
}

async fn publish(hub: web::Data<LabHub>) -> HttpResponse {
    let n = hub.publish(ByteString::from);
    HttpResponse::Ok().body(n.to_string())
}

async fn slow(req: HttpRequest) -> impl Responder {
    let p = Params::parse(req.query_string());
    let data = ByteString::from(payload(p.size));
    Sse::from_infallible_stream(slow_stream(data, p.slow_duration()).map(data_event))
}
