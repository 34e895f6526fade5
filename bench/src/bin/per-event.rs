//! The per-event path in isolation, for an instruction count that does not depend on the
//! machine's load: drives an `Sse` body in-process (no socket), copying each chunk out
//! the way actix-http does, for N events of S bytes; with `id` as a third argument every
//! event also carries `id: <i>`, sent as `send!(data, id = i)` sends it.
//!
//! ```text
//! cargo build --release -p actix-sse-bench --bin per-event
//! valgrind --tool=callgrind target/release/per-event 64 20000
//! valgrind --tool=callgrind target/release/per-event 64 20000 id
//! ```

use std::{future::poll_fn, pin::pin};

use actix_web::body::MessageBody;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args
        .next()
        .map_or(64, |s| s.parse().expect("size in bytes"));
    let n: usize = args
        .next()
        .map_or(20_000, |s| s.parse().expect("number of events"));
    let ids = match args.next().as_deref() {
        None => false,
        Some("id") => true,
        Some(other) => panic!("third argument: `id` or nothing, not {other:?}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let payload = "x".repeat(size);
        let body = sse_runtime::Sse::from_fn(move |tx| async move {
            if ids {
                for i in 0..n as u64 {
                    tx.send_with(payload.as_str(), sse_runtime::Fields::new().id(i))
                        .await?;
                }
            } else {
                for _ in 0..n {
                    tx.send(payload.as_str()).await?;
                }
            }
            Ok::<(), sse_runtime::SendError>(())
        });
        let mut body = pin!(body);
        let (mut bytes, mut chunks) = (0usize, 0usize);
        let mut write_buf: Vec<u8> = Vec::with_capacity(1 << 20);
        while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            let chunk = chunk.expect("no panic");
            write_buf.clear();
            write_buf.extend_from_slice(&chunk);
            bytes += chunk.len();
            chunks += 1;
        }
        // `id: ` + the digits + LF per event, counted without formatting (no allocation
        // outside the measured path).
        let id_bytes: usize = if ids {
            (0..n).map(|i| digits(i) + 5).sum()
        } else {
            0
        };
        assert_eq!(
            bytes,
            n * (size + 8) + id_bytes,
            "every event arrived, exactly framed"
        );
        eprintln!("{n} events of {size} B: {bytes} bytes in {chunks} chunks");
    });
}

/// Decimal digits of `n`.
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}
