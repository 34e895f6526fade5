//! Handlers and parameters named like the identifiers the expansion generates (and the
//! runtime helpers it calls) compile: generated locals are hygienic, generated paths are
//! absolute, and the only generated item names are the user's own.
#![deny(warnings)]
#![allow(non_camel_case_types)]

use actix_sse::prelude::*;
use actix_web::{web, App};

#[sse("/tx")]
async fn __tx() {
    send!("tx");
    close!();
}

// Parameters named like generated locals (in a module where no item has their names: a
// parameter named like a unit struct in scope would be a pattern matching it).
mod params {
    use actix_sse::prelude::*;
    use actix_web::HttpRequest;

    #[sse("/params")]
    #[allow(clippy::too_many_arguments)]
    pub async fn params(
        __tx: HttpRequest,
        __arg0: HttpRequest,
        __arg1: HttpRequest,
        __sse: HttpRequest,
        __config: HttpRequest,
        __resource: HttpRequest,
        __heartbeat_event: HttpRequest,
        __sse_handler: HttpRequest,
    ) {
        send!(__tx.path().to_owned());
        send!(__arg0.path().to_owned(), event = "e");
        let paths = [
            __arg1,
            __sse,
            __config,
            __resource,
            __heartbeat_event,
            __sse_handler,
        ];
        send!(paths.iter().map(|r| r.path()).collect::<Vec<_>>().join(","));
        close!();
    }

    #[sse(heartbeat = "1s", heartbeat_event = "hb", retry = "1s")]
    pub async fn plain(__tx: HttpRequest, __sse: HttpRequest) {
        send!(format!("{} {}", __tx.path(), __sse.path()));
    }
}

#[sse(heartbeat = "1s", heartbeat_event = "hb", retry = "1s")]
async fn __sse() {
    send!("sse");
}

#[sse("/a")]
async fn __arg0() {
    send!("a");
}

#[sse("/c")]
async fn __config() {
    send!("c");
}

#[sse("/r")]
async fn __resource() {
    send!("r");
}

#[sse("/h", heartbeat_event = "hb")]
async fn __heartbeat_event() {
    send!("h");
}

#[sse("/s")]
async fn __sse_handler() {
    send!("s");
}

#[sse("/respond")]
async fn respond_fn() {
    send!("r");
}

#[sse("/take")]
async fn take_sender() {
    send!("t");
}

#[sse("/register")]
async fn register() {
    send!("r");
}

#[sse("/send")]
async fn send() {
    send!("s");
}

#[sse("/close")]
async fn close() {
    close!();
}

pub fn main() {
    let _app = App::new()
        .service(__tx)
        .service(__arg0)
        .service(__config)
        .service(__resource)
        .service(__heartbeat_event)
        .service(__sse_handler)
        .service(respond_fn)
        .service(take_sender)
        .service(register)
        .service(send)
        .service(close)
        .service(params::params)
        .route("/plain", web::get().to(params::plain))
        .route("/sse", web::get().to(__sse));
}
