//! `send!` inside another macro's tokens (`tokio::select!`, a local `macro_rules!` call,
//! `vec!`, `assert!`) is rewritten too; `actix_sse::send!` by path as well.
#![deny(warnings)]
// `vec![send!(..), ..]` is the point: `send!` inside `vec!`.
#![allow(clippy::useless_vec)]

use std::time::Duration;

use actix_sse::prelude::*;
use actix_web::App;

macro_rules! log_and {
    ($e:expr) => {{
        let r = $e;
        r
    }};
}

#[sse("/events")]
async fn events() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    drop(tx);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => { send!(msg); }
                None => break,
            },
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                send!("tick", event = "tick");
            }
        }
    }
    let _ = log_and!(send!("done"));
    // Arguments that are expressions are visited as expressions.
    let sent = vec![send!("in vec").is_ok(), send!("again").is_ok()];
    assert!(sent.len() == 2, "{}", send!("in assert").is_ok());
    actix_sse::send!("by path");
    ::actix_sse::close!();
}

pub fn main() {
    let _app = App::new().service(events);
}
