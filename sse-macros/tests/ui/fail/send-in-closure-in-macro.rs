//! A closure inside `println!`'s arguments is still a closure: our error, not rustc's E0728.
use actix_sse::prelude::*;

#[sse("/events")]
async fn events() {
    println!("{}", ["a", "b"].iter().map(|s| send!(*s).is_ok()).count());
}

fn main() {
    let _ = actix_web::App::new().service(events);
}
