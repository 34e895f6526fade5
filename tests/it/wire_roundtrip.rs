//! Property test: for arbitrary strings in every field, either the API refuses the event
//! (and writes nothing), or an independent parser reads back exactly the event that was
//! built — never an extra field or event.
//!
//! The parser is `eventsource-stream` 0.2 (not ours). Its known limits, none of which our
//! output can reach: it stalls on invalid UTF-8 (we only write UTF-8), it holds an event
//! whose last byte is a lone CR (we never write CR), and it strips a BOM only at the start
//! of the first chunk (we never write one; a BOM inside data stays inside a `data:` line).

use std::convert::Infallible;

use actix_sse::{Event, Field};
use bytes::{Bytes, BytesMut};
use eventsource_stream::Eventsource;
use futures_util::{FutureExt, StreamExt};
use proptest::prelude::*;

/// What a WHATWG client reads back from `data`: every CRLF, CR and LF is one LF.
fn normalized(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

fn parse(chunks: Vec<Bytes>) -> Vec<eventsource_stream::Event> {
    futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))
        .eventsource()
        .map(|r| r.expect("parser accepts our output"))
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("all input is ready")
}

/// Strings rich in the characters that matter: CR, LF, NUL, colons, spaces, BOM, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just("\r".to_owned()),
                Just("\n".to_owned()),
                Just("\r\n".to_owned()),
                Just("\0".to_owned()),
                Just(":".to_owned()),
                Just(" ".to_owned()),
                Just("\u{FEFF}".to_owned()),
                Just("data: x".to_owned()),
                Just("event: evil".to_owned()),
                Just("é🎉".to_owned()),
                "[a-z]{1,3}",
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    data: String,
    event: Option<String>,
    id: Option<String>,
    comment: Option<String>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(data, event, id, comment)| Spec {
            data,
            event,
            id,
            comment,
        })
}

fn build(s: &Spec) -> Event {
    let mut ev = Event::data(s.data.clone());
    if let Some(e) = &s.event {
        ev = ev.event(e);
    }
    if let Some(id) = &s.id {
        ev = ev.id(id);
    }
    if let Some(c) = &s.comment {
        ev = ev.with_comment(c.clone());
    }
    ev
}

fn refusal(s: &Spec) -> Option<Field> {
    if s.event.as_deref().is_some_and(|e| e.contains(['\r', '\n'])) {
        Some(Field::Event)
    } else if s
        .id
        .as_deref()
        .is_some_and(|i| i.contains(['\r', '\n', '\0']))
    {
        Some(Field::Id)
    } else {
        None
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_sequence_of_events_reads_back_exactly(specs in proptest::collection::vec(spec(), 1..6), split in any::<prop::sample::Index>()) {
        let mut buf = BytesMut::new();
        let mut want = Vec::new();
        let mut last_id = String::new();
        for s in &specs {
            let before = buf.len();
            match build(s).encode(&mut buf) {
                Err(e) => {
                    prop_assert_eq!(Some(e.field()), refusal(s));
                    prop_assert_eq!(buf.len(), before, "nothing written for a refused event");
                }
                Ok(()) => {
                    prop_assert_eq!(refusal(s), None);
                    if let Some(id) = &s.id {
                        last_id = id.clone();
                    }
                    let event = match s.event.as_deref() {
                        None | Some("") => "message".to_owned(),
                        Some(e) => e.to_owned(),
                    };
                    want.push((event, normalized(&s.data), last_id.clone()));
                }
            }
        }
        prop_assert!(std::str::from_utf8(&buf).is_ok(), "output is UTF-8");
        prop_assert!(!buf.starts_with("\u{FEFF}".as_bytes()), "no BOM");
        // Writes may be split at any byte (WIRE 17).
        let bytes = buf.freeze();
        let at = split.index(bytes.len() + 1);
        let got: Vec<_> = parse(vec![bytes.slice(..at), bytes.slice(at..)])
            .into_iter()
            .map(|e| (e.event, e.data, e.id))
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn comments_never_dispatch(c in text()) {
        let mut buf = BytesMut::new();
        Event::comment(c).encode(&mut buf).unwrap();
        Event::data("after").encode(&mut buf).unwrap();
        let got = parse(vec![buf.freeze()]);
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(&got[0].data, "after");
        prop_assert_eq!(&got[0].event, "message");
    }
}
