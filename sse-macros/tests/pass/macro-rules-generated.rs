//! `#[sse]` produced by `macro_rules!`, with `send!` coming from the macro too.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::App;

macro_rules! endpoint {
    ($name:ident, $path:literal, $msg:expr) => {
        #[sse($path, heartbeat = "1s")]
        async fn $name() {
            let msg = $msg;
            send!(msg);
            send!($msg, event = "again");
        }
    };
}

endpoint!(first, "/first", "one");
endpoint!(second, "/second", String::from("two"));

pub fn main() {
    let _app = App::new().service(first).service(second);
}
