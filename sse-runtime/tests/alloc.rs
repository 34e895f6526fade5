//! Memory, counted with a global allocator: the per-event path allocates nothing, and a
//! stream gives back the memory of one large event instead of keeping it for its life.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::{Cell, RefCell},
    future::poll_fn,
    net::Ipv4Addr,
    rc::Rc,
    sync::atomic::{AtomicIsize, Ordering},
    task::Poll,
    time::Duration,
};

mod common;

use actix_web::body::{BoxBody, MessageBody};
use common::{next_chunk, Body};
use sse_runtime::{Fields, Formatted, SendError, Sse};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Bytes currently allocated, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Held by the tests that allocate much while another one reads `LIVE`, which counts
/// every thread.
static LIVE_READERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` on a current-thread runtime while no other test that reads `LIVE` runs.
fn alone(test: impl std::future::Future<Output = ()>) {
    let _serial = LIVE_READERS.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(test);
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Parks the handler once, so the body hands the chunk so far to the test.
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

/// Allocations of `f`'s call, counted around the whole call (the fields are built inside
/// it).
async fn counted<F: std::future::Future<Output = ()>>(f: impl FnOnce() -> F) -> usize {
    let before = allocations();
    f().await;
    allocations() - before
}

/// What `send!("..")` and `send!(text, event = .., id = .., retry = ..)` call, counted around
/// the whole call through the stream's `Sender` — building the fields included — once the
/// stream's buffer exists: integer ids, string ids, `Display` ids, event names, retry.
#[tokio::test]
async fn string_events_allocate_nothing_even_with_fields() {
    let counts = Rc::new(RefCell::new(Vec::new()));
    let out = counts.clone();
    let text = String::from("line one\nline two");
    let mut body: Body = Box::pin(
        Sse::from_fn(move |tx| async move {
            tx.send("x".repeat(4000)).await.unwrap();
            yield_to_body().await;
            let record = |what: &'static str, n: usize| out.borrow_mut().push((what, n));

            let n = counted(|| async { tx.send("plain").await.unwrap() }).await;
            record("send!(\"plain\")", n);
            let mut id = 6u64;
            let n = counted(|| async {
                id += 1;
                tx.send_with(text.as_str(), Fields::new().event("update").id(id))
                    .await
                    .unwrap()
            })
            .await;
            record("send!(text, event = \"update\", id = integer)", n);
            let name = String::from("room-7");
            let n = counted(|| async {
                tx.send_with("s", Fields::new().id(name.as_str()))
                    .await
                    .unwrap()
            })
            .await;
            record("send!(\"s\", id = &str)", n);
            let n = counted(|| async { tx.send_with("s", Fields::new().id(&name)).await.unwrap() })
                .await;
            record("send!(\"s\", id = &String)", n);
            let n = counted(|| async {
                tx.send_with("d", Fields::new().id(Formatted(Ipv4Addr::LOCALHOST)))
                    .await
                    .unwrap()
            })
            .await;
            record("send!(\"d\", id = Display value)", n);
            let n = counted(|| async {
                tx.send_with(
                    "r",
                    Fields::new()
                        .retry(Duration::from_secs(3))
                        .comment("c")
                        .event("e")
                        .id(-1i32),
                )
                .await
                .unwrap()
            })
            .await;
            record("send!(\"r\", retry, comment, event, id)", n);
            // A refused id is rolled back without allocating either.
            let n = counted(|| async {
                let r = tx
                    .send_with("no", Fields::new().event("e").id("1\n2"))
                    .await;
                assert!(matches!(r, Err(SendError::Invalid(_))));
            })
            .await;
            record("refused id", n);
        })
        .no_heartbeat(),
    );
    assert_eq!(next_chunk(&mut body).await.len(), 4008);
    let chunk = next_chunk(&mut body).await;
    assert_eq!(
        std::str::from_utf8(&chunk).unwrap(),
        "data: plain\n\n\
         event: update\nid: 7\ndata: line one\ndata: line two\n\n\
         id: room-7\ndata: s\n\n\
         id: room-7\ndata: s\n\n\
         id: 127.0.0.1\ndata: d\n\n\
         : c\nevent: e\nid: -1\nretry: 3000\ndata: r\n\n"
    );
    let counts = counts.borrow();
    assert_eq!(counts.len(), 7);
    for (what, n) in counts.iter() {
        assert_eq!(*n, 0, "{what} allocated {n} times");
    }
}

/// Events of 4 KiB under the default limit: every chunk ends one event past the limit,
/// and the next one is written into the same allocation once actix-web has dropped the
/// chunk. Nothing is allocated per chunk while the stream runs.
#[test]
fn chunks_that_end_past_the_limit_reuse_the_buffer() {
    alone(chunks_that_end_past_the_limit_reuse_the_buffer_());
}

async fn chunks_that_end_past_the_limit_reuse_the_buffer_() {
    let data = "x".repeat(4096);
    let mut body: Body = Box::pin(
        Sse::from_fn(move |tx| async move { while tx.send(data.as_str()).await.is_ok() {} })
            .no_heartbeat(),
    );
    for _ in 0..3 {
        drop(next_chunk(&mut body).await);
    }
    let before = allocations();
    for _ in 0..50 {
        let chunk = next_chunk(&mut body).await;
        assert!(chunk.len() > sse_runtime::DEFAULT_BUFFER, "{}", chunk.len());
        drop(chunk);
    }
    assert_eq!(allocations() - before, 0, "allocations for 50 chunks");
}

/// One 1 MiB event, then small ones: once the large chunk is gone, the stream holds about
/// its steady-state buffer again, not 1 MiB for the rest of its life (with the heartbeat
/// off, so no idle timer gives it back either).
#[test]
fn memory_returns_to_the_steady_state_after_one_large_event() {
    alone(memory_returns_to_the_steady_state_after_one_large_event_());
}

async fn memory_returns_to_the_steady_state_after_one_large_event_() {
    const BIG: usize = 1 << 20;
    let mut body: Body = Box::pin(
        Sse::from_fn(move |tx| async move {
            tx.send("x".repeat(BIG)).await.unwrap();
            for i in 0..100 {
                yield_to_body().await;
                tx.send(format!("small {i}")).await.unwrap();
            }
            std::future::pending::<()>().await;
        })
        .no_heartbeat(),
    );
    let baseline = LIVE.load(Ordering::Relaxed);
    let big = next_chunk(&mut body).await;
    assert_eq!(big.len(), BIG + 8);
    drop(big);
    let mut peak_after = isize::MIN;
    for i in 0..100 {
        let chunk = next_chunk(&mut body).await;
        assert_eq!(chunk, format!("data: small {i}\n\n").as_bytes());
        drop(chunk);
        peak_after = peak_after.max(LIVE.load(Ordering::Relaxed) - baseline);
    }
    assert!(
        peak_after < 64 * 1024,
        "after the large event the stream still holds {peak_after} bytes more than before it"
    );
}

/// A push handler whose response head waits for its first event goes out with its first
/// heartbeat when it has nothing to send: that heartbeat is sent as its own frame, so the
/// idle stream keeps no buffer allocation for its life. It holds what the same stream
/// returned as is holds, plus the one small box actix-web puts around a boxed body.
#[test]
fn a_stream_started_by_its_first_heartbeat_keeps_no_buffer() {
    alone(a_stream_started_by_its_first_heartbeat_keeps_no_buffer_());
}

async fn idle() {
    std::future::pending::<()>().await
}

/// The live heap an idle stream holds once its first heartbeat has gone out, with its body
/// boxed as actix-web boxes a handler's response body.
async fn held_after_first_heartbeat(started: bool) -> (isize, BoxBody) {
    let req = actix_web::test::TestRequest::default().to_http_request();
    let period = Duration::from_millis(10);
    let before = LIVE.load(Ordering::Relaxed);
    let sse = Sse::from_fn(|tx| async move {
        let _tx = tx;
        idle().await
    })
    .heartbeat(period);
    let mut body = if started {
        let started = sse.start().await;
        actix_web::Responder::respond_to(started, &req)
            .map_into_boxed_body()
            .into_body()
    } else {
        BoxBody::new(sse)
    };
    let chunk = poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await;
    assert_eq!(chunk.unwrap().unwrap(), ":\n".as_bytes());
    (LIVE.load(Ordering::Relaxed) - before, body)
}

async fn a_stream_started_by_its_first_heartbeat_keeps_no_buffer_() {
    // Lazily built runtime state (timer wheel levels) is not counted below.
    drop(held_after_first_heartbeat(true).await);
    drop(held_after_first_heartbeat(false).await);
    let (started, _a) = held_after_first_heartbeat(true).await;
    let (as_is, _b) = held_after_first_heartbeat(false).await;
    eprintln!("idle stream after its first heartbeat: started {started} B, as is {as_is} B");
    // The boxed body boxed once more (a pointer: 8 B). Copying the heartbeat into the
    // buffer put 48 B more on top: the buffer's 2 bytes, and the 40 B header a buffer gets
    // once a chunk is split off it.
    // What every idle stream holds: its state shared with its senders (112 B), its body
    // with the handler's future (136 B here), and the heartbeat's timer (tokio's `Sleep`,
    // 96 B, more with some of tokio's features); with `tracing`, the stream's span too.
    // 464 B + the timer's growth before what few streams use went into a box of its own.
    let timer = std::mem::size_of::<tokio::time::Sleep>() as isize;
    let span = if cfg!(feature = "tracing") { 64 } else { 0 };
    assert!(
        as_is <= 256 + timer + span,
        "an idle stream returned as is holds {as_is} B, its timer {timer} B"
    );
    assert!(
        started - as_is <= 16,
        "a started idle stream holds {} B more than the same stream returned as is",
        started - as_is
    );
}
