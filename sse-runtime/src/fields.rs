//! [`Fields`]: the `event`, `id`, `retry` and comment of one event, written straight into
//! the stream's buffer (what `send!(value, id = ..)` builds), and the values they take.

use std::{borrow::Cow, fmt, rc::Rc, sync::Arc, time::Duration};

use bytes::{BufMut, BytesMut};

use crate::{encode, event::InvalidEvent, Event, EventId, Field};

/// The fields of one event besides its data — `event`, `id`, `retry` and a comment — for
/// [`Sender::send_with`](crate::Sender::send_with) and
/// [`Sender::send_serialized`](crate::Sender::send_serialized). What
/// `send!(value, event = .., id = ..)` builds.
///
/// Unlike the same fields on an [`Event`], nothing is formatted or copied when they are
/// set: each value is kept as it is and written straight into the stream's buffer when
/// the event is sent. Integers are formatted in place and strings copied once, so sending
/// a string with an integer or string `id`, an `event` name and a `retry` allocates
/// nothing. Values are [`FieldValue`]s; wrap any other [`Display`](fmt::Display) value in
/// [`Formatted`], which formats it into the buffer.
///
/// The checks are those of [`Event`]: an `event` name with CR or LF, or an `id` with CR,
/// LF or NUL, refuses the whole event with an [`InvalidEvent`], and nothing of it is
/// written (the stream goes on).
///
/// ```
/// use actix_sse::dev::{Fields, Formatted};
/// use actix_sse::{SendError, Sse};
/// use std::time::Duration;
///
/// let body = Sse::from_fn(|tx| async move {
///     for i in 0..3u64 {
///         tx.send_with("tick", Fields::new().event("tick").id(i)).await?;
///     }
///     let at = std::net::Ipv4Addr::LOCALHOST; // any `Display` value
///     tx.send_with("hello", Fields::new().id(Formatted(at)).retry(Duration::from_secs(3)))
///         .await?;
///     let refused = tx.send_with("x", Fields::new().id("bad\nid")).await;
///     assert!(matches!(refused, Err(SendError::Invalid(_))));
///     Ok::<_, SendError>(())
/// });
/// # drop(body);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "fields do nothing until they are sent"]
pub struct Fields<E = Unset, I = Unset, C = Unset> {
    event: E,
    id: I,
    comment: C,
    retry: Option<Duration>,
}

/// A field that is not set on a [`Fields`] (the default of each of its type parameters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Unset;

impl Fields {
    /// No field set: sending a value with these fields sends just the value.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E, I, C> Fields<E, I, C> {
    /// Sets the event type (`event: name`); a name with CR or LF is refused when sent.
    pub fn event<V: FieldValue>(self, name: V) -> Fields<V, I, C> {
        Fields {
            event: name,
            id: self.id,
            comment: self.comment,
            retry: self.retry,
        }
    }

    /// Sets the event id (`id: value`); an id with CR, LF or NUL is refused when sent.
    /// `""` is a real id: it resets the client's last event id.
    pub fn id<V: FieldValue>(self, id: V) -> Fields<E, V, C> {
        Fields {
            event: self.event,
            id,
            comment: self.comment,
            retry: self.retry,
        }
    }

    /// Adds a comment, written before the other fields, every line of it prefixed.
    pub fn comment<V: FieldValue>(self, text: V) -> Fields<E, I, V> {
        Fields {
            event: self.event,
            id: self.id,
            comment: text,
            retry: self.retry,
        }
    }

    /// Sets the client's reconnection time, written as integer milliseconds.
    #[inline]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }
}

/// A value that [`Fields`] writes straight into a field: integers (formatted in place),
/// strings, [`EventId`]s, references to those, and [`Formatted`] for any other
/// [`Display`](fmt::Display) value.
///
/// Sealed: the runtime checks what every value wrote, so no value can inject a field.
pub trait FieldValue: sealed::Sealed {
    /// Appends the value's text.
    #[doc(hidden)]
    fn __write(&self, buf: &mut BytesMut);

    /// True if the text can never contain CR, LF or NUL, so it needs no check.
    #[doc(hidden)]
    const __CLEAN: bool = false;
}

/// Formats any [`Display`](fmt::Display) value straight into a field of [`Fields`]:
/// `Fields::new().id(Formatted(uuid))`. The text is checked where it was written.
///
/// Like [`ToString`], it panics if the value's `Display` implementation returns an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Formatted<T>(pub T);

mod sealed {
    pub trait Sealed {}
}

/// `fmt::Write` into the buffer.
struct Writer<'a>(&'a mut BytesMut);

impl fmt::Write for Writer<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn write_display(buf: &mut BytesMut, value: &(impl fmt::Display + ?Sized)) {
    fmt::write(&mut Writer(buf), format_args!("{value}"))
        .expect("a Display implementation returned an error unexpectedly");
}

impl<T: fmt::Display> sealed::Sealed for Formatted<T> {}
impl<T: fmt::Display> FieldValue for Formatted<T> {
    fn __write(&self, buf: &mut BytesMut) {
        write_display(buf, &self.0);
    }
}

impl sealed::Sealed for EventId {}
impl FieldValue for EventId {
    fn __write(&self, buf: &mut BytesMut) {
        write_display(buf, self);
    }
    // `{epoch}-{seq}` in base-36 and decimal digits.
    const __CLEAN: bool = true;
}

impl<T: FieldValue + ?Sized> sealed::Sealed for &T {}
impl<T: FieldValue + ?Sized> FieldValue for &T {
    #[inline]
    fn __write(&self, buf: &mut BytesMut) {
        (**self).__write(buf);
    }
    const __CLEAN: bool = T::__CLEAN;
}

/// The eight decimal digits of `n` (below 10⁸, with leading zeros) as ASCII, the most
/// significant first in memory order (`to_le_bytes`): computed in a register, two digits
/// per lane at a time, so that they reach the buffer in one 8-byte store. (A formatter
/// that writes digits into a scratch array and then copies them makes the copy wait for
/// those small stores: at millions of ids a second that was a tenth of a stream's time.)
#[inline]
fn eight_digits(n: u64) -> u64 {
    debug_assert!(n < 100_000_000);
    // Two 32-bit lanes of four digits each: the high half first in memory.
    let x = (n / 10_000) | ((n % 10_000) << 32);
    // Each lane v < 10⁴ into v / 100 (low 16 bits) and v % 100 (high 16 bits).
    let q = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let x = q | ((x - q * 100) << 16);
    // Each 16-bit lane w < 100 into w / 10 (low byte) and w % 10 (high byte).
    let q = ((x * 103) >> 10) & 0x000F_000F_000F_000F;
    let x = q | ((x - q * 10) << 8);
    x + 0x3030_3030_3030_3030
}

/// Writes `n` in decimal into `buf`.
#[inline]
fn write_decimal(buf: &mut BytesMut, n: u64) {
    const E8: u64 = 100_000_000;
    if n >= E8 * E8 {
        buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        return;
    }
    let (high, low) = if n >= E8 {
        (n / E8, Some(n % E8))
    } else {
        (n, None)
    };
    // The leading digits, shifted down over the leading zeros: one 8-byte write, then
    // the zeros' room given back.
    let len = high.checked_ilog10().unwrap_or(0) as usize + 1;
    let zeros = 8 - len;
    let start = buf.len();
    buf.extend_from_slice(&(eight_digits(high) >> (8 * zeros)).to_le_bytes());
    buf.truncate(start + len);
    if let Some(low) = low {
        buf.extend_from_slice(&eight_digits(low).to_le_bytes());
    }
}

macro_rules! unsigned_values {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl FieldValue for $ty {
            #[inline]
            fn __write(&self, buf: &mut BytesMut) {
                write_decimal(buf, *self as u64);
            }
            const __CLEAN: bool = true;
        }
    )*};
}

macro_rules! signed_values {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl FieldValue for $ty {
            #[inline]
            fn __write(&self, buf: &mut BytesMut) {
                if *self < 0 {
                    buf.extend_from_slice(b"-");
                }
                write_decimal(buf, self.unsigned_abs() as u64);
            }
            const __CLEAN: bool = true;
        }
    )*};
}

macro_rules! wide_values {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl FieldValue for $ty {
            #[inline]
            fn __write(&self, buf: &mut BytesMut) {
                buf.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
            const __CLEAN: bool = true;
        }
    )*};
}

// `usize` and `isize` are at most 64 bits wide on every target actix-web builds for.
unsigned_values!(u8, u16, u32, u64, usize);
signed_values!(i8, i16, i32, i64, isize);
wide_values!(u128, i128);

macro_rules! str_values {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl FieldValue for $ty {
            #[inline]
            fn __write(&self, buf: &mut BytesMut) {
                let text: &str = self;
                buf.extend_from_slice(text.as_bytes());
            }
        }
    )*};
}

str_values!(str, String, Box<str>, Cow<'_, str>, Rc<str>, Arc<str>);

/// A slot of [`Fields`]: [`Unset`], or a [`FieldValue`].
#[doc(hidden)]
pub trait Slot {
    /// Writes `name` + value + LF, or the `fallback` if unset; returns whether it wrote.
    fn write_field(
        &self,
        buf: &mut BytesMut,
        field: Field,
        fallback: Option<&str>,
    ) -> Result<bool, InvalidEvent>;

    /// Writes the comment lines, or the `fallback`'s if unset.
    fn write_comment(&self, buf: &mut BytesMut, fallback: Option<&str>);

    /// False for [`Unset`]: the slot replaces nothing.
    const SET: bool = true;
}

impl Slot for Unset {
    const SET: bool = false;

    #[inline]
    fn write_field(
        &self,
        buf: &mut BytesMut,
        field: Field,
        fallback: Option<&str>,
    ) -> Result<bool, InvalidEvent> {
        match fallback {
            None => Ok(false),
            Some(text) => text.write_field(buf, field, None),
        }
    }

    #[inline]
    fn write_comment(&self, buf: &mut BytesMut, fallback: Option<&str>) {
        if let Some(text) = fallback {
            encode::comment(buf, text.as_bytes());
        }
    }
}

impl<T: FieldValue + ?Sized> Slot for T {
    #[inline]
    fn write_field(
        &self,
        buf: &mut BytesMut,
        field: Field,
        _fallback: Option<&str>,
    ) -> Result<bool, InvalidEvent> {
        let name: &[u8] = match field {
            Field::Event => b"event: ",
            Field::Id => b"id: ",
        };
        let start = buf.len();
        buf.reserve(name.len() + 24);
        buf.extend_from_slice(name);
        self.__write(buf);
        if !T::__CLEAN {
            let value = &buf[start + name.len()..];
            let bad = match field {
                Field::Event => memchr::memchr2(b'\n', b'\r', value),
                Field::Id => memchr::memchr3(b'\n', b'\r', 0, value),
            };
            if let Some(index) = bad {
                let byte = value[index];
                buf.truncate(start);
                return Err(InvalidEvent::new(field, byte, index));
            }
        }
        buf.put_u8(b'\n');
        Ok(true)
    }

    fn write_comment(&self, buf: &mut BytesMut, _fallback: Option<&str>) {
        // Written once after `: `; a text with line breaks is taken out again and written
        // line by line (the rare case, which copies it once).
        let start = buf.len();
        buf.extend_from_slice(b": ");
        self.__write(buf);
        let text = &buf[start + 2..];
        if text.is_empty() {
            buf.truncate(start);
            buf.extend_from_slice(b":\n");
        } else if memchr::memchr2(b'\n', b'\r', text).is_some() {
            let text = text.to_vec();
            buf.truncate(start);
            encode::comment(buf, &text);
        } else {
            buf.put_u8(b'\n');
        }
    }
}

/// What [`Sender::send_with`](crate::Sender::send_with) and
/// [`Sender::send_serialized`](crate::Sender::send_serialized) take as the fields of the
/// event they send: [`Fields`] (written straight into the buffer), or an [`Event`], whose
/// data is ignored (kept for compatibility; it formats and allocates each field when set).
///
/// Sealed: implemented for those two only.
pub trait EventFields: sealed::Sealed {
    /// Writes comment, `event`, `id` and `retry` (each from `base` where these fields do
    /// not set it) and returns whether a field that dispatches the block was written.
    /// On error nothing is written.
    #[doc(hidden)]
    fn __write(&self, buf: &mut BytesMut, base: Option<&Event>) -> Result<bool, InvalidEvent>;

    /// False when no field is set: the value goes out as it is.
    #[doc(hidden)]
    #[inline]
    fn __sets_any(&self) -> bool {
        true
    }
}

impl<E, I, C> sealed::Sealed for Fields<E, I, C> {}
impl<E: Slot, I: Slot, C: Slot> EventFields for Fields<E, I, C> {
    #[inline]
    fn __write(&self, buf: &mut BytesMut, base: Option<&Event>) -> Result<bool, InvalidEvent> {
        let of = |field: fn(&Event) -> &Option<String>| base.and_then(|b| field(b).as_deref());
        write_fields(
            buf,
            (&self.comment, of(|b| &b.comment)),
            (&self.event, of(|b| &b.event)),
            (&self.id, of(|b| &b.id)),
            self.retry.or(base.and_then(|b| b.retry)),
        )
    }

    #[inline]
    fn __sets_any(&self) -> bool {
        E::SET || I::SET || C::SET || self.retry.is_some()
    }
}

impl sealed::Sealed for Event {}
impl EventFields for Event {
    fn __write(&self, buf: &mut BytesMut, base: Option<&Event>) -> Result<bool, InvalidEvent> {
        let pick = |field: fn(&Event) -> &Option<String>| {
            field(self)
                .as_deref()
                .or_else(|| base.and_then(|b| field(b).as_deref()))
        };
        write_fields(
            buf,
            (&Unset, pick(|e| &e.comment)),
            (&Unset, pick(|e| &e.event)),
            (&Unset, pick(|e| &e.id)),
            self.retry.or(base.and_then(|b| b.retry)),
        )
    }
}

/// Comment, `event`, `id`, `retry`, each from its slot or else its fallback; nothing is
/// left written on error. Returns whether a field that dispatches the block was written.
#[inline]
fn write_fields(
    buf: &mut BytesMut,
    comment: (&impl Slot, Option<&str>),
    event: (&impl Slot, Option<&str>),
    id: (&impl Slot, Option<&str>),
    retry: Option<Duration>,
) -> Result<bool, InvalidEvent> {
    let start = buf.len();
    comment.0.write_comment(buf, comment.1);
    let written = event
        .0
        .write_field(buf, Field::Event, event.1)
        .and_then(|e| Ok(e | id.0.write_field(buf, Field::Id, id.1)?));
    match written {
        Ok(written) => {
            if let Some(retry) = retry {
                encode::retry_field(buf, retry.as_millis());
            }
            Ok(written | retry.is_some())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    // Exact bytes for every field combination, and the checks (WIRE 19-28).
    use std::{net::Ipv4Addr, time::Duration};

    use super::*;
    use crate::{event::sealed::Out, IntoEvent};

    /// Integers are written as `Display` writes them: every value up to 10⁶, around
    /// every power of ten, the extremes of every width, and a spread of others.
    #[test]
    fn integers_read_as_display_writes_them() {
        fn check<T: FieldValue + std::fmt::Display>(n: T) {
            let mut buf = BytesMut::from(&b"x"[..]);
            n.__write(&mut buf);
            assert_eq!(&buf[1..], format!("{n}").as_bytes(), "{n}");
        }
        for n in 0..1_000_000u64 {
            check(n);
        }
        let mut p = 1u64;
        for _ in 0..20 {
            for n in [p - 1, p, p + 1, p.wrapping_mul(7) / 3] {
                check(n);
                check(n as i64);
                check(-(n as i64));
            }
            p = p.saturating_mul(10);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(x);
            check(x >> (x % 64));
            check(x as i64);
        }
        check(u64::MAX);
        check(i64::MIN);
        check(i64::MAX);
        check(u8::MAX);
        check(i8::MIN);
        check(u16::MAX);
        check(i16::MIN);
        check(u32::MAX);
        check(i32::MIN);
        check(usize::MAX);
        check(isize::MIN);
        check(u128::MAX);
        check(i128::MIN);
    }

    /// Encodes after a prefix; on error checks that only the prefix is left.
    fn enc(value: impl IntoEvent, fields: impl EventFields) -> Result<Vec<u8>, InvalidEvent> {
        let mut buf = BytesMut::from(&b"prefix|"[..]);
        match value.encode_with_fields(&fields, &mut Out(&mut buf)) {
            Ok(()) => Ok(buf[7..].to_vec()),
            Err(e) => {
                assert_eq!(
                    &buf[..],
                    b"prefix|",
                    "a refused event leaves nothing behind"
                );
                Err(e)
            }
        }
    }

    #[track_caller]
    fn eq(got: Result<Vec<u8>, InvalidEvent>, want: &[u8]) {
        let got = got.expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "raw: {got:?}"
        );
    }

    #[track_caller]
    fn refused(got: Result<Vec<u8>, InvalidEvent>, field: Field, ch: char, index: usize) {
        let e = got.expect_err("refused");
        assert_eq!((e.field(), e.character(), e.index()), (field, ch, index));
    }

    #[test]
    fn no_fields_is_the_data_alone() {
        eq(enc("hi", Fields::new()), b"data: hi\n\n");
        eq(enc("", Fields::new()), b"data: \n\n");
    }

    #[test]
    fn wire_22_integer_ids_in_place() {
        eq(enc("x", Fields::new().id(42)), b"id: 42\ndata: x\n\n");
        eq(enc("x", Fields::new().id(0u8)), b"id: 0\ndata: x\n\n");
        eq(enc("x", Fields::new().id(-7i64)), b"id: -7\ndata: x\n\n");
        eq(
            enc("x", Fields::new().id(u64::MAX)),
            b"id: 18446744073709551615\ndata: x\n\n",
        );
        eq(
            enc("x", Fields::new().id(i128::MIN)),
            format!("id: {}\ndata: x\n\n", i128::MIN).as_bytes(),
        );
        eq(enc("x", Fields::new().id(&9usize)), b"id: 9\ndata: x\n\n");
    }

    #[test]
    fn wire_22_string_ids() {
        eq(enc("x", Fields::new().id("a:b")), b"id: a:b\ndata: x\n\n");
        eq(enc("x", Fields::new().id(" 7")), b"id:  7\ndata: x\n\n");
        eq(
            enc("x", Fields::new().id(String::from("ü-🎉-1"))),
            b"id: \xC3\xBC-\xF0\x9F\x8E\x89-1\ndata: x\n\n",
        );
        let shared: Arc<str> = "s-1".into();
        eq(enc("x", Fields::new().id(shared)), b"id: s-1\ndata: x\n\n");
        eq(
            enc("x", Fields::new().id(Formatted(Ipv4Addr::LOCALHOST))),
            b"id: 127.0.0.1\ndata: x\n\n",
        );
        eq(
            enc("x", Fields::new().id(EventId::new(35, 12))),
            b"id: z-12\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_24_empty_id_is_written() {
        eq(enc("x", Fields::new().id("")), b"id: \ndata: x\n\n");
    }

    #[test]
    fn wire_19_event_names() {
        eq(
            enc("x", Fields::new().event("update")),
            b"event: update\ndata: x\n\n",
        );
        eq(
            enc("x", Fields::new().event(Formatted("événement-🎉"))),
            "event: événement-🎉\ndata: x\n\n".as_bytes(),
        );
        // NUL is refused in ids only.
        eq(
            enc("x", Fields::new().event("a\0b")),
            b"event: a\x00b\ndata: x\n\n",
        );
    }

    #[test]
    fn every_field_in_wire_order() {
        // Set in any order, written as comment, event, id, retry, data.
        let f = Fields::new()
            .retry(Duration::from_millis(2500))
            .id(7u32)
            .comment("note")
            .event("update");
        eq(
            enc("line 1\nline 2", f),
            b": note\nevent: update\nid: 7\nretry: 2500\ndata: line 1\ndata: line 2\n\n",
        );
    }

    #[test]
    fn wire_28_retry() {
        eq(
            enc("x", Fields::new().retry(Duration::ZERO)),
            b"retry: 0\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_29_30_comments() {
        eq(enc("x", Fields::new().comment("")), b":\ndata: x\n\n");
        eq(enc("x", Fields::new().comment(12)), b": 12\ndata: x\n\n");
        eq(
            enc("x", Fields::new().comment("c1\ndata: injected\r\n")),
            b": c1\n: data: injected\n:\ndata: x\n\n",
        );
        eq(
            enc("x", Fields::new().comment(Formatted("a\rb"))),
            b": a\n: b\ndata: x\n\n",
        );
    }

    #[test]
    fn wire_21_event_with_break_refused() {
        for (bad, ch, at) in [("bad\nevent: evil", '\n', 3), ("bad\revil", '\r', 3)] {
            refused(enc("x", Fields::new().event(bad)), Field::Event, ch, at);
            refused(
                enc("x", Fields::new().event(Formatted(bad))),
                Field::Event,
                ch,
                at,
            );
        }
    }

    #[test]
    fn wire_25_26_bad_ids_refused_after_other_fields() {
        for (bad, ch, at) in [
            ("1\nevent: evil", '\n', 1),
            ("1\r", '\r', 1),
            ("a\0b", '\0', 1),
        ] {
            // The comment and the event line written before the id go too.
            let f = Fields::new().comment("c").event("e").id(bad);
            refused(enc("x", f), Field::Id, ch, at);
            let f = Fields::new().event("e").id(Formatted(bad));
            refused(enc("x", f), Field::Id, ch, at);
            let f = Fields::new().id(String::from(bad));
            refused(enc("x", f), Field::Id, ch, at);
        }
    }

    #[test]
    fn fields_replace_an_events_own() {
        let ev = Event::data("d").event("own").id("own-id").with_comment("c");
        eq(
            enc(ev.clone(), Fields::new().id(5)),
            b": c\nevent: own\nid: 5\ndata: d\n\n",
        );
        eq(
            enc(ev.clone(), Fields::new().event("new").comment("n")),
            b": n\nevent: new\nid: own-id\ndata: d\n\n",
        );
        // An event's own fields are checked, unless replaced.
        let bad = Event::data("d").id("1\n2");
        refused(enc(bad.clone(), Fields::new()), Field::Id, '\n', 1);
        eq(enc(bad, Fields::new().id(3)), b"id: 3\ndata: d\n\n");
        // An event without data, with fields: an id-only block.
        eq(enc(Event::new(), Fields::new().id(1)), b"id: 1\n\n");
        eq(enc(Event::new(), Fields::new()), b"");
    }

    #[test]
    fn an_event_as_fields_still_works() {
        eq(
            enc(
                "x",
                Event::new().event("e").id(7).retry(Duration::from_secs(1)),
            ),
            b"event: e\nid: 7\nretry: 1000\ndata: x\n\n",
        );
        eq(
            enc(Event::data("d").id("own"), Event::new().event("e")),
            b"event: e\nid: own\ndata: d\n\n",
        );
        refused(enc("x", Event::new().id("a\0")), Field::Id, '\0', 1);
    }
}
