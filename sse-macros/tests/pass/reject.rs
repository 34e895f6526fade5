//! `reject!` in any push handler, whatever it returns: a response, a builder, an error, a
//! `ResponseError` of the user's; in statement and expression position.
#![deny(warnings)]

use actix_sse::prelude::*;
use actix_web::{error::ErrorUnauthorized, http::StatusCode, App, HttpResponse, ResponseError};

#[derive(Debug)]
struct Mine;

impl std::fmt::Display for Mine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mine")
    }
}

impl ResponseError for Mine {
    fn status_code(&self) -> StatusCode {
        StatusCode::CONFLICT
    }
}

#[sse("/unit")]
async fn unit(last: LastEventId) {
    if last.as_deref() == Some("done") {
        reject!(HttpResponse::NoContent());
    }
    send!("x");
}

#[sse("/result")]
async fn result(last: LastEventId) -> Result<(), SendError> {
    let n: u32 = match last.as_deref() {
        None => reject!(ErrorUnauthorized("no")),
        Some("mine") => reject!(Mine),
        Some("built") => reject!(HttpResponse::NotFound().body("gone")),
        Some(_) => 1,
    };
    send!(n.to_string())?;
    Ok(())
}

#[sse]
async fn plain() -> actix_web::Result<()> {
    reject!(("text", StatusCode::IM_A_TEAPOT))
}

pub fn main() {
    let _ = App::new()
        .service(unit)
        .service(result)
        .route("/plain", actix_web::web::get().to(plain));
}
