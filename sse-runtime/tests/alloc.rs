//! Memory, counted with a global allocator: the per-event path allocates nothing, and a
//! stream gives back the memory of one large event instead of keeping it for its life.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    future::poll_fn,
    rc::Rc,
    sync::atomic::{AtomicIsize, Ordering},
    task::Poll,
};

mod common;

use common::{next_chunk, Body};
use sse_runtime::{Event, Sse};

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

/// What `send!("..")` and `send!(text, event = .., id = ..)` call, counted around the whole
/// call through the stream's `Sender`, once the stream's buffer exists.
#[tokio::test]
async fn string_events_allocate_nothing_even_with_fields() {
    let counts = Rc::new(Cell::new((usize::MAX, usize::MAX)));
    let out = counts.clone();
    let text = String::from("line one\nline two");
    let mut body: Body = Box::pin(
        Sse::from_fn(move |tx| async move {
            tx.send("x".repeat(4000)).await.unwrap();
            yield_to_body().await;

            let before = allocations();
            tx.send("plain").await.unwrap();
            let plain = allocations() - before;

            let fields = Event::new().event("update").id(7);
            let before = allocations();
            tx.send_with(text.as_str(), fields).await.unwrap();
            let with_fields = allocations() - before;
            out.set((plain, with_fields));
        })
        .no_heartbeat(),
    );
    assert_eq!(next_chunk(&mut body).await.len(), 4008);
    let chunk = next_chunk(&mut body).await;
    assert_eq!(
        &chunk[..],
        &b"data: plain\n\nevent: update\nid: 7\ndata: line one\ndata: line two\n\n"[..]
    );
    let (plain, with_fields) = counts.get();
    assert_eq!(plain, 0, "send!(\"plain\")");
    assert_eq!(
        with_fields, 0,
        "send!(text, event = .., id = ..) must not copy the data into an Event"
    );
}

/// One 1 MiB event, then small ones: once the large chunk is gone, the stream holds about
/// its steady-state buffer again, not 1 MiB for the rest of its life (with the heartbeat
/// off, so no idle timer gives it back either).
#[tokio::test]
async fn memory_returns_to_the_steady_state_after_one_large_event() {
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
