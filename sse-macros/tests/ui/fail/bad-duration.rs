use actix_sse::prelude::*;

#[sse("/events", heartbeat = "10 sec")]
async fn events() {
    send!("hello");
}

// An unknown unit is invalid however large the number.
#[sse("/big", heartbeat = "99999999999999999999999sec")]
async fn big() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new().service(events).service(big);
}
