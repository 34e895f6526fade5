//! Memory and allocations of the in-process hub, counted with a global allocator:
//! history costs close to the bytes it stores, and fanning one event out to 10 000
//! subscribers allocates nothing per subscriber.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use futures_util::FutureExt;
use sse_runtime::{Channels, Subscription};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        LIVE_BYTES.with(|n| n.set(n.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.with(|n| n.set(n.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

#[test]
fn history_memory_stays_close_to_its_frame_bytes() {
    let hub = Channels::builder().history_events(1_000).build();
    // Warm up the per-thread encode buffer and the topic, outside the measurement.
    hub.publish("warm", "x".repeat(1000))
        .now_or_never()
        .unwrap()
        .unwrap();

    let payloads: Vec<String> = (0..1_000)
        .map(|i| format!("{i:04}{}", "x".repeat(996)))
        .collect();
    let before = live_bytes();
    let mut frame_bytes = 0;
    for data in &payloads {
        let len = data.len();
        let id = hub
            .publish("t", data.as_str())
            .now_or_never()
            .unwrap()
            .unwrap();
        frame_bytes += format!("id: {id}\ndata: \n\n").len() + len;
    }
    let used = (live_bytes() - before) as f64;
    let ratio = used / frame_bytes as f64;
    eprintln!("history: {used} heap bytes for {frame_bytes} frame bytes: {ratio:.3}x");
    assert!(frame_bytes > 1_000 * 1_000);
    assert!(ratio <= 1.2, "{ratio:.3}x");

    // Trimming gives the memory back: 1 000 more events replace the first ones.
    let payloads: Vec<String> = (0..1_000).map(|_| "y".repeat(1000)).collect();
    let before = live_bytes();
    for data in &payloads {
        hub.publish("t", data.as_str())
            .now_or_never()
            .unwrap()
            .unwrap();
    }
    let grown = live_bytes() - before;
    assert!(grown.abs() < 10_000, "history grew by {grown} bytes");
}

#[test]
fn fan_out_allocates_nothing_per_subscriber() {
    let hub = Channels::new();
    let mut subs: Vec<Subscription> = (0..10_000)
        .map(|_| hub.subscribe("t", None).now_or_never().unwrap())
        .collect();
    let drain = |subs: &mut Vec<Subscription>| {
        let mut n = 0;
        for sub in subs.iter_mut() {
            while let Some(Some(ev)) = sub.next().now_or_never() {
                assert_eq!(ev.topic(), "t");
                n += 1;
            }
        }
        n
    };
    // The first events size every queue; from then on the queues reuse their room.
    for _ in 0..2 {
        hub.publish("t", "warm").now_or_never().unwrap().unwrap();
    }
    assert_eq!(drain(&mut subs), 20_000);

    let (publish_allocs, _) = allocations_in(|| {
        hub.publish("t", "steady state")
            .now_or_never()
            .unwrap()
            .unwrap()
    });
    eprintln!("one publish to 10 000 subscribers: {publish_allocs} allocations");
    assert!(publish_allocs < 10, "{publish_allocs} allocations");

    let (drain_allocs, n) = allocations_in(|| drain(&mut subs));
    assert_eq!(n, 10_000);
    assert_eq!(drain_allocs, 0, "receiving allocates nothing");

    drop(subs);
    assert_eq!(hub.subscriber_count("t"), 0);
}

#[test]
fn a_resume_holds_no_copy_of_what_it_missed() {
    let hub = Channels::builder().history_events(1_000).build();
    let first = hub.publish("t", "0").now_or_never().unwrap().unwrap();
    for i in 1..1_000 {
        hub.publish("t", format!("{i:031}"))
            .now_or_never()
            .unwrap()
            .unwrap();
    }
    let from = first.to_string();
    // 1,000 subscribers resume, each 999 events behind, and read a few events each.
    let before = live_bytes();
    let mut subs: Vec<Subscription> = (0..1_000)
        .map(|_| hub.subscribe("t", &from).now_or_never().unwrap())
        .collect();
    for sub in &mut subs {
        let ev = sub.next().now_or_never().unwrap().unwrap();
        assert_eq!(ev.data(), format!("{:031}", 1));
    }
    let per_sub = (live_bytes() - before) / 1_000;
    eprintln!("a subscriber 999 events behind holds {per_sub} B");
    // A handle per missed event would be 40 B × 999; what it reads at a time is 32.
    assert!(per_sub < 2_500, "{per_sub} B per resumed subscriber");

    // Each still gets exactly what it missed, in order.
    for sub in &mut subs {
        let mut n = 1;
        while let Some(Some(ev)) = sub.next().now_or_never() {
            n += 1;
            assert_eq!(ev.data(), format!("{n:031}"));
        }
        assert_eq!(n, 999);
    }
}
