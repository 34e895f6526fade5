//! An `async` block inside another macro's arguments is still an `async` block.
use actix_sse::prelude::*;

macro_rules! run {
    ($e:expr) => {
        $e
    };
}

#[sse("/events")]
async fn events() {
    let _task = run!(actix_web::rt::spawn(async move {
        send!("hello");
    }));
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
