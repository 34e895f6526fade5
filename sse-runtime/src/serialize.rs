//! Serializers turn a value into an event's `data` (Ktor's `serialize = { typeInfo, it -> .. }`).

use std::{error::Error as StdError, fmt};

use bytes::{BufMut, BytesMut};

use crate::encode;

/// Turns a `T` into the `data` of an event.
///
/// Implemented by [`Json`] (compact `serde_json`, one line) and by every
/// `Fn(&T) -> String` or `Fn(&T) -> Result<String, E>`, so a plain function is a custom
/// serializer. To write without building a `String`, implement the trait and write into
/// the [`DataWriter`] (it is both [`std::io::Write`] and [`std::fmt::Write`]).
///
/// A serializer only produces the data's text: the runtime frames it, so whatever it
/// writes is one event's data. Line breaks (CRLF, LF or a lone CR) start new `data: `
/// lines, and nothing it writes can add a field or another event. Output that is not
/// UTF-8 is refused (the event is not sent).
///
/// ```
/// use actix_sse::{DataWriter, Event, SerializeError, Serializer, Sse};
/// use std::fmt::Write as _;
///
/// /// `x,y` pairs as CSV.
/// struct Csv;
///
/// impl Serializer<(i32, i32)> for Csv {
///     fn serialize(&self, &(x, y): &(i32, i32), out: &mut DataWriter<'_>) -> Result<(), SerializeError> {
///         write!(out, "{x},{y}").map_err(SerializeError::new)
///     }
/// }
///
/// let body = Sse::from_fn(|tx| async move {
///     tx.send_serialized(&(1, 2), &Csv, Event::new()).await // data: 1,2
/// });
/// # drop(body);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serialize a `{T}`",
    label = "`{Self}` cannot serialize this `{T}`",
    note = "with `serialize = json`, `{T}` must implement `serde::Serialize`: add `#[derive(serde::Serialize)]` to its definition",
    note = "with `serialize = path::to::fn`, the function must take `&{T}` and return `String` or `Result<String, E>`"
)]
pub trait Serializer<T: ?Sized> {
    /// Writes `value`'s text into `out`. On error the event is not sent.
    fn serialize(&self, value: &T, out: &mut DataWriter<'_>) -> Result<(), SerializeError>;
}

/// Where a [`Serializer`] writes an event's data: [`std::io::Write`] and [`std::fmt::Write`]
/// over the stream's buffer. What is written here is framed by the runtime.
pub struct DataWriter<'a> {
    buf: &'a mut BytesMut,
    /// Set when bytes came through `io::Write` from a serializer we did not write: they
    /// must be checked to be UTF-8 before they go out.
    unchecked: bool,
}

impl DataWriter<'_> {
    /// Appends `text`.
    pub fn write_str(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }
}

impl fmt::Write for DataWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.buf.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl std::io::Write for DataWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.unchecked = true;
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for DataWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataWriter").finish_non_exhaustive()
    }
}

/// Appends the `data: ` lines for `value` as `serializer` writes it (without the event's
/// final empty line). On error nothing is written.
pub(crate) fn write_data<T, S>(
    serializer: &S,
    value: &T,
    buf: &mut BytesMut,
) -> Result<(), SerializeError>
where
    T: ?Sized,
    S: Serializer<T> + ?Sized,
{
    let start = buf.len();
    buf.extend_from_slice(b"data: ");
    let body = buf.len();
    let mut out = DataWriter {
        buf,
        unchecked: false,
    };
    let result = serializer.serialize(value, &mut out);
    let unchecked = out.unchecked;
    let written = &buf[body..];
    let result = result.and_then(|()| {
        if unchecked && std::str::from_utf8(written).is_err() {
            return Err(SerializeError::new("the serializer wrote invalid UTF-8"));
        }
        Ok(())
    });
    if let Err(e) = result {
        buf.truncate(start);
        return Err(e);
    }
    // The common case is one line (compact JSON escapes every control character); only
    // text with a line break is re-split into one `data: ` line per line.
    if memchr::memchr2(b'\n', b'\r', written).is_some() {
        let text = buf.split_off(body);
        buf.truncate(start);
        encode::data(buf, &text);
    } else {
        buf.put_u8(b'\n');
    }
    Ok(())
}

/// `serialize = json`: compact JSON, exactly what `serde_json::to_string` gives, written
/// straight into the output buffer (no intermediate `String`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: serde::Serialize + ?Sized> Serializer<T> for Json {
    fn serialize(&self, value: &T, out: &mut DataWriter<'_>) -> Result<(), SerializeError> {
        // serde_json writes UTF-8 only: no need to check it again.
        serde_json::to_writer(out.buf.writer(), value).map_err(SerializeError::new)
    }
}

impl<T, F, O> Serializer<T> for F
where
    T: ?Sized,
    F: Fn(&T) -> O,
    O: SerializerOutput,
{
    fn serialize(&self, value: &T, out: &mut DataWriter<'_>) -> Result<(), SerializeError> {
        let text = self(value).into_result()?;
        out.write_str(&text);
        Ok(())
    }
}

/// What a custom serializer function may return: a `String`, or `Result<String, E>`.
pub trait SerializerOutput {
    /// The data, or the serializer's error.
    fn into_result(self) -> Result<String, SerializeError>;
}

impl SerializerOutput for String {
    fn into_result(self) -> Result<String, SerializeError> {
        Ok(self)
    }
}

impl<E> SerializerOutput for Result<String, E>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn into_result(self) -> Result<String, SerializeError> {
        self.map_err(|e| SerializeError(e.into()))
    }
}

/// A serializer failed; the event was not written.
#[derive(Debug)]
pub struct SerializeError(Box<dyn StdError + Send + Sync>);

impl SerializeError {
    /// Wraps any error.
    pub fn new(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(err.into())
    }
}

impl fmt::Display for SerializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SSE serializer failed: {}", self.0)
    }
}

impl StdError for SerializeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn wire_18_json_is_one_line() {
        let mut m = BTreeMap::new();
        m.insert("msg", serde_json::json!("line1\nline2"));
        m.insert("n", serde_json::json!(1));
        let mut buf = BytesMut::new();
        write_data(&Json, &m, &mut buf).unwrap();
        assert_eq!(&buf[..], b"data: {\"msg\":\"line1\\nline2\",\"n\":1}\n");
        assert_eq!(
            &buf[6..buf.len() - 1],
            serde_json::to_string(&m).unwrap().as_bytes()
        );
    }

    #[test]
    fn json_error_writes_nothing() {
        // A map with non-string keys cannot be JSON.
        let mut m = BTreeMap::new();
        m.insert((1, 2), 3);
        let mut buf = BytesMut::from(&b"keep"[..]);
        let err = write_data(&Json, &m, &mut buf).unwrap_err();
        assert!(err.to_string().contains("key must be a string"), "{err}");
        assert_eq!(&buf[..], b"keep");
    }

    #[test]
    fn custom_fn_output_is_split() {
        let f = |v: &u32| format!("{v}\n{v}");
        let mut buf = BytesMut::new();
        write_data(&f, &7, &mut buf).unwrap();
        assert_eq!(&buf[..], b"data: 7\ndata: 7\n");

        let g = |_: &u32| -> Result<String, std::fmt::Error> { Err(std::fmt::Error) };
        assert!(write_data(&g, &7, &mut buf).is_err());
        assert_eq!(&buf[..], b"data: 7\ndata: 7\n");
    }
}
