//! Allocations of `send!(value, id = .., event = .., retry = ..)` in an `#[sse]` handler,
//! counted with a global allocator around the `send!` statements themselves — the fields
//! the macro builds from the user's expressions included — once the stream's buffer
//! exists. The handler's response body is driven in-process, as actix-web drives it.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::{Cell, RefCell},
    fmt,
    future::poll_fn,
    net::Ipv4Addr,
    task::Poll,
};

use actix_sse::prelude::*;
use actix_web::{body::MessageBody, Responder};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static COUNTS: RefCell<Vec<(&'static str, usize)>> = const { RefCell::new(Vec::new()) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn record(what: &'static str, since: usize) {
    let n = allocations() - since;
    COUNTS.with(|c| c.borrow_mut().push((what, n)));
}

/// Parks the handler once, so that the body hands what was sent to the test.
async fn yield_to_body() {
    let mut parked = false;
    poll_fn(|cx| {
        if parked {
            Poll::Ready(())
        } else {
            parked = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// A user's id type: `Display` only.
struct RoomId(u32);

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "room-{}", self.0)
    }
}

const EVENTS: u64 = 50;

#[sse(heartbeat = "off")]
async fn events() {
    // The first event sizes the stream's buffer; everything after it reuses it.
    send!("x".repeat(4000));
    yield_to_body().await;

    let before = allocations();
    for i in 0..EVENTS {
        send!("tick", id = i);
    }
    record("send!(\"tick\", id = i) with `i: u64`", before);
    yield_to_body().await;

    let before = allocations();
    for i in 0..3 {
        send!("tick", id = i);
    }
    record("send!(\"tick\", id = i) with an inferred integer", before);
    yield_to_body().await;

    let name = String::from("room-7");
    let before = allocations();
    send!("s", id = name.as_str());
    send!("s", id = &name);
    send!("s", id = "literal", event = "update");
    record("send!(\"s\", id = string, event = ..)", before);
    yield_to_body().await;

    let before = allocations();
    send!("d", id = RoomId(3));
    send!("d", id = Ipv4Addr::LOCALHOST, event = RoomId(4));
    record("send!(\"d\", id = a Display value)", before);
    yield_to_body().await;

    let before = allocations();
    send!("r", comment = "c", event = "e", id = 9u8, retry = "3s");
    record("send!(\"r\", comment, event, id, retry)", before);
    yield_to_body().await;

    let before = allocations();
    let refused = send!("no", event = "ok", id = "1\n2");
    assert!(matches!(refused, Err(SendError::Invalid(_))));
    record("a refused id", before);
}

#[actix_web::test]
async fn send_with_fields_allocates_nothing_per_event() {
    let req = actix_web::test::TestRequest::get().to_http_request();
    let body = events().await.respond_to(&req).into_body();
    let mut body = std::pin::pin!(body);
    let mut chunks = Vec::new();
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let Ok(chunk) = chunk else {
            panic!("the body failed")
        };
        chunks.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    let counts = COUNTS.with(|c| c.borrow().clone());
    assert_eq!(counts.len(), 6, "{counts:?}");
    for (what, n) in counts {
        assert_eq!(n, 0, "{what} allocated {n} times");
    }
    // The exact bytes, whichever chunks the body grouped them in.
    let ticks: String = (0..EVENTS)
        .map(|i| format!("id: {i}\ndata: tick\n\n"))
        .collect();
    let want = [
        format!("data: {}\n\n", "x".repeat(4000)),
        ticks,
        "id: 0\ndata: tick\n\nid: 1\ndata: tick\n\nid: 2\ndata: tick\n\n".to_owned(),
        "id: room-7\ndata: s\n\nid: room-7\ndata: s\n\n\
         event: update\nid: literal\ndata: s\n\n"
            .to_owned(),
        "id: room-3\ndata: d\n\nevent: room-4\nid: 127.0.0.1\ndata: d\n\n".to_owned(),
        ": c\nevent: e\nid: 9\nretry: 3000\ndata: r\n\n".to_owned(),
    ];
    assert_eq!(chunks.concat(), want.concat());
}
