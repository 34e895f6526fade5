use actix_sse::prelude::*;
use actix_web::HttpResponse;

async fn events() {
    reject!(HttpResponse::NoContent());
}

fn main() {
    let _ = events;
}
