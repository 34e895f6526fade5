//! The per-event path allocates nothing: encoding a string event, with or without fields,
//! writes straight into a buffer that has room (counted with a global allocator).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use bytes::BytesMut;
use sse_runtime::{Event, IntoEvent};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn string_events_allocate_nothing_even_with_fields() {
    let mut buf = BytesMut::with_capacity(4096);
    let text = String::from("line one\nline two");

    let n = allocations_in(|| "plain".encode_into(&mut buf).unwrap());
    assert_eq!(n, 0, "send!(\"plain\")");

    let fields = Event::new().event("update").id(7);
    let n = allocations_in(|| text.as_str().encode_with_fields(fields, &mut buf).unwrap());
    assert_eq!(
        n, 0,
        "send!(text, event = .., id = ..) must not copy the data into an Event"
    );

    assert_eq!(
        &buf[..],
        &b"data: plain\n\nevent: update\nid: 7\ndata: line one\ndata: line two\n\n"[..]
    );
}

#[test]
fn fields_replace_an_events_own_and_bad_fields_write_nothing() {
    let mut buf = BytesMut::new();
    Event::data("d")
        .event("old")
        .id(1)
        .encode_with_fields(Event::new().id(2).with_comment("c"), &mut buf)
        .unwrap();
    assert_eq!(&buf[..], &b": c\nevent: old\nid: 2\ndata: d\n\n"[..]);

    let mut buf = BytesMut::new();
    assert!("x"
        .encode_with_fields(Event::new().id("a\nb"), &mut buf)
        .is_err());
    assert!("x"
        .encode_with_fields(Event::new().event("a\rb"), &mut buf)
        .is_err());
    assert!(buf.is_empty());
}
