use actix_sse::prelude::*;

// Above the 24 h ceiling.
#[sse("/day", heartbeat = "1441m")]
async fn day() {
    send!("hello");
}

// Fits a `u64` of seconds, but `Instant + period` would overflow.
#[sse("/max", heartbeat = "18446744073709551615s")]
async fn max() {
    send!("hello");
}

// Does not fit a `u64` at all: the same error, not "invalid duration" (nor a panic).
#[sse("/huge", heartbeat = "99999999999999999999999999h")]
async fn huge() {
    send!("hello");
}

fn main() {
    let _ = actix_web::App::new()
        .service(day)
        .service(max)
        .service(huge);
}
