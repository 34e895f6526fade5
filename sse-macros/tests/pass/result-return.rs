//! `-> Result<(), E>`: `send!(x)?` converts `SendError` into the declared error type.
#![deny(warnings)]

use std::fmt;

use actix_sse::{prelude::*, SendError};
use actix_web::App;

#[sse("/plain")]
async fn plain() -> Result<(), SendError> {
    send!("one")?;
    send!("two", event = "e")?;
    Ok(())
}

#[derive(Debug)]
enum AppError {
    Send(SendError),
    Other,
}

impl From<SendError> for AppError {
    fn from(e: SendError) -> Self {
        AppError::Send(e)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Send(e) => write!(f, "send failed: {e}"),
            AppError::Other => f.write_str("other"),
        }
    }
}

#[sse("/custom")]
async fn custom() -> Result<(), AppError> {
    let sent: Result<(), SendError> = send!("value as an expression");
    sent?;
    if false {
        return Err(AppError::Other);
    }
    send!("x")?;
    Ok(())
}

/// actix-web's own error type works too (`SendError` is a `ResponseError`), and so does a
/// boxed error.
#[sse("/actix")]
async fn actix() -> actix_web::Result<()> {
    send!("x")?;
    Ok(())
}

#[sse("/boxed")]
async fn boxed() -> Result<(), Box<dyn std::error::Error>> {
    send!("x")?;
    Ok(())
}

pub fn main() {
    let _app = App::new()
        .service(plain)
        .service(custom)
        .service(actix)
        .service(boxed);
}
