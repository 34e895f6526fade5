//! The WHATWG encoder. Everything here appends to a caller's `BytesMut`; nothing allocates
//! per line.
// Numbers in `WIRE n` comments refer to the rules of `WIRE.md`.

use bytes::{BufMut, BytesMut};

use crate::Event;

/// Calls `line` for every line of `text`, split at CRLF, LF and lone CR. Trailing and
/// leading breaks give empty lines and an empty `text` is one empty line, so the client
/// reads back exactly `text` with every break as LF.
// WIRE 4, 5-7, 9-11.
#[inline]
fn for_each_line(mut text: &[u8], mut line: impl FnMut(&[u8])) {
    loop {
        match find_break(text) {
            None => return line(text),
            Some(i) => {
                line(&text[..i]);
                let crlf = text[i] == b'\r' && text.get(i + 1) == Some(&b'\n');
                text = &text[i + 1 + usize::from(crlf)..];
            }
        }
    }
}

/// The first CR or LF in `text`. A short text on x86-64 goes through memchr's SSE2
/// searcher, which every x86-64 CPU has: for the short texts most events carry, that skips
/// the run-time choice of the widest vectors, which costs as much as the search itself.
#[inline]
fn find_break(text: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if text.len() <= 128 {
        if let Some(finder) = memchr::arch::x86_64::sse2::memchr::Two::new(b'\n', b'\r') {
            return finder.find(text);
        }
    }
    memchr::memchr2(b'\n', b'\r', text)
}

/// `data: ` lines for `data`, without the event's final empty line.
pub(crate) fn data(buf: &mut BytesMut, data: &[u8]) {
    buf.reserve(data.len() + 7);
    for_each_line(data, |line| {
        buf.extend_from_slice(b"data: ");
        buf.extend_from_slice(line);
        buf.put_u8(b'\n');
    });
}

/// Comment lines: `: text` for every line, `:` for an empty one.
// WIRE 29, 30.
pub(crate) fn comment(buf: &mut BytesMut, text: &[u8]) {
    buf.reserve(text.len() + 3);
    for_each_line(text, |line| {
        if line.is_empty() {
            buf.extend_from_slice(b":\n");
        } else {
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(line);
            buf.put_u8(b'\n');
        }
    });
}

/// The fields that come before `data`: comment, `event`, `id`, `retry`.
/// The caller has validated `event` and `id`.
pub(crate) fn fields(buf: &mut BytesMut, ev: &Event) {
    if let Some(text) = &ev.comment {
        comment(buf, text.as_bytes());
    }
    if let Some(name) = &ev.event {
        field(buf, b"event: ", name.as_bytes());
    }
    if let Some(id) = &ev.id {
        field(buf, b"id: ", id.as_bytes());
    }
    if let Some(retry) = ev.retry {
        retry_field(buf, retry.as_millis());
    }
}

/// The empty line that dispatches the block, unless the block is only a comment.
pub(crate) fn end(buf: &mut BytesMut, ev: &Event) {
    if ev.data.is_some() || ev.event.is_some() || ev.id.is_some() || ev.retry.is_some() {
        buf.put_u8(b'\n');
    }
}

fn field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.reserve(name.len() + value.len() + 1);
    buf.extend_from_slice(name);
    buf.extend_from_slice(value);
    buf.put_u8(b'\n');
}

/// `retry: <ms>\n`: ASCII digits only.
// WIRE 28.
pub(crate) fn retry_field(buf: &mut BytesMut, millis: u128) {
    let mut digits = [0u8; 39];
    let mut i = digits.len();
    let mut n = millis;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    field(buf, b"retry: ", &digits[i..]);
}

#[cfg(test)]
mod tests {
    // Exact bytes for every encoder item of WIRE.md.
    use std::time::Duration;

    use super::*;
    use crate::{Event, IntoEvent};

    fn enc(ev: impl IntoEvent) -> Vec<u8> {
        let mut buf = BytesMut::new();
        ev.encode_into(&mut crate::event::sealed::Out(&mut buf))
            .unwrap();
        buf.to_vec()
    }

    fn data(s: &str) -> Vec<u8> {
        enc(s)
    }

    #[track_caller]
    fn eq(got: Vec<u8>, want: &[u8]) {
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "raw: {got:?}"
        );
        assert_eq!(got, want);
    }

    /// The break search takes one path for short texts and another for long ones: every
    /// length around the vector widths and the switch, with a CR, an LF or a CRLF at every
    /// position, splits exactly as a byte-by-byte reading does.
    // WIRE 4, 5-7.
    #[test]
    fn line_breaks_found_at_every_position_short_and_long() {
        fn naive(text: &[u8]) -> Vec<u8> {
            let mut out = b"data: ".to_vec();
            let mut i = 0;
            while i < text.len() {
                match text[i] {
                    b'\r' if text.get(i + 1) == Some(&b'\n') => {
                        out.extend_from_slice(b"\ndata: ");
                        i += 1;
                    }
                    b'\r' | b'\n' => out.extend_from_slice(b"\ndata: "),
                    b => out.push(b),
                }
                i += 1;
            }
            out.extend_from_slice(b"\n\n");
            out
        }
        for len in [
            1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 130, 200, 300,
        ] {
            for at in 0..len {
                for brk in [&b"\n"[..], b"\r", b"\r\n"] {
                    let mut text = vec![b'x'; len];
                    text.splice(at..at + 1, brk.iter().copied());
                    let text = String::from_utf8(text).unwrap();
                    eq(data(&text), &naive(text.as_bytes()));
                }
            }
        }
    }

    #[test]
    fn wire_01_plain_data() {
        eq(data("hello"), b"data: hello\n\n");
    }

    #[test]
    fn wire_02_one_space_after_colon() {
        eq(data(" leading space"), b"data:  leading space\n\n");
        eq(data("  two spaces"), b"data:   two spaces\n\n");
        eq(data("\ttab"), b"data: \ttab\n\n");
        eq(
            enc(Event::data("x").event(" spaced").id(" 7")),
            b"event:  spaced\nid:  7\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_03_every_line_prefixed() {
        eq(data(":not a comment"), b"data: :not a comment\n\n");
        eq(
            data("event: nope\nid: nope\nretry: 1"),
            b"data: event: nope\ndata: id: nope\ndata: retry: 1\n\n",
        );
    }

    #[test]
    fn wire_04_empty_data_is_one_line() {
        eq(data(""), b"data: \n\n");
        eq(enc(Event::data("")), b"data: \n\n");
    }

    #[test]
    fn wire_05_lf() {
        eq(
            data("line1\nline2\nline3"),
            b"data: line1\ndata: line2\ndata: line3\n\n",
        );
    }

    #[test]
    fn wire_06_crlf_is_one_break() {
        eq(data("a\r\nb"), b"data: a\ndata: b\n\n");
    }

    #[test]
    fn wire_07_lone_cr() {
        eq(data("a\rb"), b"data: a\ndata: b\n\n");
    }

    #[test]
    fn wire_08_no_injection_through_data() {
        eq(data("x\revent: evil"), b"data: x\ndata: event: evil\n\n");
        eq(
            data("para1\n\nevent: evil\ndata: injected"),
            b"data: para1\ndata: \ndata: event: evil\ndata: data: injected\n\n",
        );
    }

    #[test]
    fn wire_09_trailing_breaks_kept() {
        eq(
            data("ends with newline\n"),
            b"data: ends with newline\ndata: \n\n",
        );
        eq(data("ends with cr\r"), b"data: ends with cr\ndata: \n\n");
        eq(
            data("ends with crlf\r\n"),
            b"data: ends with crlf\ndata: \n\n",
        );
        eq(data("x\n\n\n"), b"data: x\ndata: \ndata: \ndata: \n\n");
    }

    #[test]
    fn wire_10_leading_break() {
        eq(
            data("\nstarts with newline"),
            b"data: \ndata: starts with newline\n\n",
        );
    }

    #[test]
    fn wire_11_only_a_break() {
        eq(data("\n"), b"data: \ndata: \n\n");
        eq(data("\r\n"), b"data: \ndata: \n\n");
    }

    #[test]
    fn wire_12_never_an_empty_line_inside() {
        eq(data("a\n\nb"), b"data: a\ndata: \ndata: b\n\n");
        eq(
            data("a\r\n\rb\n\nc"),
            b"data: a\ndata: \ndata: b\ndata: \ndata: c\n\n",
        );
    }

    #[test]
    fn wire_13_utf8_unchanged() {
        let s = "héllo wörld — 日本語 🎉👍🏽";
        eq(data(s), format!("data: {s}\n\n").as_bytes());
    }

    #[test]
    fn wire_14_only_cr_lf_break() {
        eq(
            data("a\u{2028}b\u{2029}c\u{0085}d\x0be\x0cf"),
            "data: a\u{2028}b\u{2029}c\u{0085}d\x0be\x0cf\n\n".as_bytes(),
        );
    }

    #[test]
    fn wire_15_nul_in_data() {
        eq(data("a\0b"), b"data: a\x00b\n\n");
    }

    #[test]
    fn wire_16_no_bom_but_kept_inside() {
        eq(data("\u{FEFF}bom"), b"data: \xEF\xBB\xBFbom\n\n");
    }

    #[test]
    fn wire_17_large_payloads() {
        let big = "x".repeat(1 << 20);
        let out = data(&big);
        assert_eq!(out.len(), 6 + (1 << 20) + 2);
        assert!(out.starts_with(b"data: xxx") && out.ends_with(b"x\n\n"));

        let many = vec!["l"; 20_000].join("\n");
        let out = data(&many);
        assert_eq!(
            out,
            "data: l\n"
                .repeat(20_000)
                .into_bytes()
                .into_iter()
                .chain(*b"\n")
                .collect::<Vec<_>>()
        );

        let wide = "é日🎉".repeat(300_000 / 9);
        eq(data(&wide), format!("data: {wide}\n\n").as_bytes());
    }

    #[test]
    fn wire_19_event_names() {
        eq(
            enc(Event::data("x").event("update")),
            b"event: update\ndata: x\n\n",
        );
        eq(
            enc(Event::data("x").event("ns:update")),
            b"event: ns:update\ndata: x\n\n",
        );
        eq(
            enc(Event::data("x").event("événement-🎉")),
            "event: événement-🎉\ndata: x\n\n".as_bytes(),
        );
    }

    #[test]
    fn wire_21_event_with_break_refused() {
        for bad in ["bad\nevent: evil", "bad\revil", "x\r\n"] {
            let mut buf = BytesMut::from(&b"prefix"[..]);
            let err = Event::data("x").event(bad).encode(&mut buf).unwrap_err();
            assert_eq!(err.field(), crate::Field::Event);
            assert_eq!(&buf[..], b"prefix", "nothing written");
        }
    }

    #[test]
    fn wire_22_ids() {
        eq(enc(Event::data("x").id(42)), b"id: 42\ndata: x\n\n");
        eq(enc(Event::data("x").id("a:b")), b"id: a:b\ndata: x\n\n");
        eq(
            enc(Event::data("x").id("ü-🎉-1")),
            b"id: \xC3\xBC-\xF0\x9F\x8E\x89-1\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_23_no_unasked_id() {
        eq(enc(Event::data("x").event("e")), b"event: e\ndata: x\n\n");
    }

    #[test]
    fn wire_24_empty_id_is_written() {
        eq(enc(Event::data("x").id("")), b"id: \ndata: x\n\n");
    }

    #[test]
    fn wire_25_26_bad_ids_refused() {
        for (bad, ch, at) in [
            ("1\nevent: evil", '\n', 1),
            ("1\r", '\r', 1),
            ("a\0b", '\0', 1),
        ] {
            let mut buf = BytesMut::new();
            let err = Event::data("x").id(bad).encode(&mut buf).unwrap_err();
            assert_eq!(
                (err.field(), err.character(), err.index()),
                (crate::Field::Id, ch, at)
            );
            assert!(buf.is_empty());
            assert!(err.to_string().contains("`id`"), "{err}");
        }
        // NUL is fine in an event name (only ids are ignored by clients for it).
        eq(
            enc(Event::data("x").event("a\0b")),
            b"event: a\x00b\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_27_id_only_block() {
        eq(enc(Event::new().id("only-id")), b"id: only-id\n\n");
    }

    #[test]
    fn wire_28_retry() {
        eq(
            enc(Event::new().retry(Duration::from_millis(2500))),
            b"retry: 2500\n\n",
        );
        eq(enc(Event::new().retry(Duration::ZERO)), b"retry: 0\n\n");
        eq(
            enc(Event::data("x").retry(Duration::from_secs_f64(1.9999))),
            b"retry: 1999\ndata: x\n\n",
        );
        let mut buf = BytesMut::new();
        retry_field(&mut buf, u128::MAX);
        assert_eq!(buf, format!("retry: {}\n", u128::MAX).as_bytes());
    }

    #[test]
    fn wire_29_30_comments() {
        eq(enc(Event::comment("heartbeat")), b": heartbeat\n");
        eq(enc(Event::comment("")), b":\n");
        eq(
            enc(Event::comment("c1\ndata: injected")),
            b": c1\n: data: injected\n",
        );
        eq(enc(Event::comment("a\rb\r\nc\n")), b": a\n: b\n: c\n:\n");
        eq(
            enc(Event::data("d").with_comment("note").id(1)),
            b": note\nid: 1\ndata: d\n\n",
        );
    }

    #[test]
    fn empty_event_writes_nothing() {
        eq(enc(Event::new()), b"");
    }
}
