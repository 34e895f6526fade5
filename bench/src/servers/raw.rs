//! **raw**: the ceiling. A tokio `TcpListener` on a current-thread runtime, one task per
//! connection, a hand-written HTTP/1.1 head and chunked framing, and events pre-framed
//! once per request and written in large batches (~64 KiB per `write_all`).

use std::{rc::Rc, time::Duration};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::broadcast,
};

use super::{tokio_listener, Hub};
use crate::proto::{frame, frame_with_id, payload, read_head, Params, SLOW_PER_TICK};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
const HEARTBEAT_CHUNK: &[u8] = b"2\r\n:\n\r\n";
const BATCH: usize = 64 * 1024;

type RawHub = Rc<Hub<Bytes>>;

/// Serves until killed.
pub fn serve(port: u16) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let listener = tokio_listener(port)?;
        let hub = RawHub::default();
        loop {
            let (sock, _) = listener.accept().await?;
            let hub = hub.clone();
            tokio::task::spawn_local(async move {
                let _ = conn(sock, hub).await;
            });
        }
    })
}

/// One chunk holding `body`.
fn chunk(body: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(body.len() + 16);
    b.put_slice(format!("{:x}\r\n", body.len()).as_bytes());
    b.put_slice(body);
    b.put_slice(b"\r\n");
    b.freeze()
}

/// `count` copies of `frame` in one chunk.
fn batch(frame: &[u8], count: usize) -> Bytes {
    chunk(&frame.repeat(count))
}

async fn conn(mut sock: TcpStream, hub: RawHub) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let target = {
        let Some(head) = read_head(&mut sock).await? else {
            return Ok(());
        };
        let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
        let target = line.split(|b| *b == b' ').nth(1).unwrap_or_default();
        String::from_utf8_lossy(target).into_owned()
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let p = Params::parse(query);
    match path {
        "/stream" if p.ids => {
            sock.write_all(HEAD).await?;
            // Events differ by their id: framed into one ~64 KiB chunk at a time, behind a
            // chunk-size line of fixed width (leading zeros are valid) filled in last.
            let data = payload(p.size);
            let mut buf = BytesMut::with_capacity(BATCH + data.len() + 64);
            let mut i = 0;
            while i < p.n {
                buf.clear();
                buf.put_slice(b"00000000\r\n");
                while i < p.n && buf.len() < BATCH {
                    frame_with_id(&mut buf, i, &data);
                    i += 1;
                }
                let size = format!("{:08x}", buf.len() - 10);
                buf[..8].copy_from_slice(size.as_bytes());
                buf.put_slice(b"\r\n");
                sock.write_all(&buf).await?;
            }
            sock.write_all(LAST_CHUNK).await?;
            let _ = sock.read(&mut [0u8; 1]).await;
        }
        "/stream" => {
            sock.write_all(HEAD).await?;
            let f = frame(&payload(p.size));
            let per = (BATCH / f.len()).max(1);
            let full = batch(f.as_bytes(), per);
            let mut left = p.n;
            while left >= per as u64 {
                sock.write_all(&full).await?;
                left -= per as u64;
            }
            if left > 0 {
                sock.write_all(&batch(f.as_bytes(), left as usize)).await?;
            }
            sock.write_all(LAST_CHUNK).await?;
            // Keep the connection until the client closes it.
            let _ = sock.read(&mut [0u8; 1]).await;
        }
        "/idle" => {
            sock.write_all(HEAD).await?;
            let period = p.heartbeat();
            let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                iv.tick().await;
                sock.write_all(HEARTBEAT_CHUNK).await?;
            }
        }
        "/fanout" => {
            let mut rx = hub.tx.subscribe();
            sock.write_all(HEAD).await?;
            loop {
                match rx.recv().await {
                    Ok(chunk) => sock.write_all(&chunk).await?,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        }
        "/publish" => {
            let n = hub.publish(|m| chunk(frame(&m).as_bytes()));
            let body = n.to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).await?;
        }
        "/slow" => {
            sock.write_all(HEAD).await?;
            let tick = batch(frame(&payload(p.size)).as_bytes(), SLOW_PER_TICK as usize);
            let deadline = tokio::time::Instant::now() + p.slow_duration();
            let mut iv = tokio::time::interval(Duration::from_millis(1));
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while tokio::time::Instant::now() < deadline {
                iv.tick().await;
                sock.write_all(&tick).await?;
            }
            sock.write_all(LAST_CHUNK).await?;
            let _ = sock.read(&mut [0u8; 1]).await;
        }
        _ => {
            sock.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
        }
    }
    Ok(())
}
