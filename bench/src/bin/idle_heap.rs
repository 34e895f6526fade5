//! `idle_heap`: the heap an idle stream holds, exactly: live bytes allocated (a counting
//! global allocator) per stream, for 1,000 streams opened through an in-process actix-web
//! service, each polled once (until it waits for its handler). `#[sse]` push handler,
//! `Sse::from_fn` returned as is, actix-web-lab's `Sse`, and plain actix-web streaming.
//! Without a connection: actix-http's own buffers are not in it (the `idle` case of the
//! main binary measures RSS over real connections).
//!
//! ```text
//! cargo run --release -p actix-sse-bench --bin idle_heap
//! ```

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed},
    time::Duration,
};

use actix_sse::{prelude::*, Sse};
use actix_web::{body::MessageBody, test, web, App, HttpResponse, Responder};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[sse("/macro", heartbeat = "1s")]
async fn macro_idle() {
    std::future::pending::<()>().await
}

async fn from_fn() -> impl Responder {
    Sse::from_fn(|tx| async move {
        let _tx = tx;
        std::future::pending::<()>().await
    })
    .heartbeat(Duration::from_secs(1))
}

async fn lab() -> impl Responder {
    let stream = futures_util::stream::pending::<actix_web_lab::sse::Event>();
    actix_web_lab::sse::Sse::from_infallible_stream(stream).with_keep_alive(Duration::from_secs(1))
}

async fn plain() -> impl Responder {
    HttpResponse::Ok().streaming(futures_util::stream::pending::<
        Result<bytes::Bytes, actix_web::Error>,
    >())
}

const N: usize = 1000;

#[actix_web::main]
async fn main() {
    let app = test::init_service(
        App::new()
            .service(macro_idle)
            .route("/from_fn", web::get().to(from_fn))
            .route("/lab", web::get().to(lab))
            .route("/plain", web::get().to(plain)),
    )
    .await;
    println!("| stream | heap per idle stream | allocations per stream |");
    println!("|---|---:|---:|");
    for path in ["/macro", "/from_fn", "/lab", "/plain"] {
        let (live, allocs) = (LIVE.load(Relaxed), ALLOCS.load(Relaxed));
        let mut bodies = Vec::with_capacity(N);
        for _ in 0..N {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            let mut body = Box::pin(res.into_body());
            // Polled until it waits, as the server does.
            let _ = futures_util::future::poll_fn(|cx| {
                std::task::Poll::Ready(body.as_mut().poll_next(cx).is_pending())
            })
            .await;
            bodies.push(body);
        }
        let per = (LIVE.load(Relaxed) - live) as f64 / N as f64;
        let allocs_n = (ALLOCS.load(Relaxed) - allocs) as f64 / N as f64;
        println!("| {path} | {per:.0} B | {allocs_n:.1} |");
        drop(bodies);
    }
}
