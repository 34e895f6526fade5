//! Serializers turn a value into an event's `data` (Ktor's `serialize = { typeInfo, it -> .. }`).

use std::{error::Error as StdError, fmt};

use bytes::{BufMut, BytesMut};

use crate::encode;

/// Turns a `T` into the `data` of an event.
///
/// Implemented by [`Json`] (compact `serde_json`, one line) and by every
/// `Fn(&T) -> String` or `Fn(&T) -> Result<String, E>`, so a plain function is a custom
/// serializer. A multi-line result is split into `data: ` lines like any other data.
///
/// ```
/// use actix_sse::{Json, Serializer};
/// use bytes::BytesMut;
///
/// fn shout(s: &str) -> String { s.to_uppercase() }
///
/// let mut buf = BytesMut::new();
/// Serializer::<str>::write_data(&shout, "hi", &mut buf).unwrap();
/// Json.write_data(&vec![1, 2], &mut buf).unwrap();
/// assert_eq!(&buf[..], b"data: HI\ndata: [1,2]\n");
/// ```
pub trait Serializer<T: ?Sized> {
    /// Appends the `data: ` lines for `value` (without the event's final empty line).
    /// On error nothing is written.
    fn write_data(&self, value: &T, buf: &mut BytesMut) -> Result<(), SerializeError>;
}

/// `serialize = json`: compact JSON, exactly what `serde_json::to_string` gives, written
/// straight into the output buffer (no intermediate `String`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: serde::Serialize + ?Sized> Serializer<T> for Json {
    fn write_data(&self, value: &T, buf: &mut BytesMut) -> Result<(), SerializeError> {
        let start = buf.len();
        buf.extend_from_slice(b"data: ");
        let body = buf.len();
        if let Err(err) = serde_json::to_writer(buf.writer(), value) {
            buf.truncate(start);
            return Err(SerializeError::new(err));
        }
        // Compact JSON escapes every control character, so it is one line; only a
        // `RawValue` can smuggle a raw break in. Re-split in that rare case.
        if memchr::memchr2(b'\n', b'\r', &buf[body..]).is_some() {
            let json = buf.split_off(body);
            buf.truncate(start);
            encode::data(buf, &json);
        } else {
            buf.put_u8(b'\n');
        }
        Ok(())
    }
}

impl<T, F, O> Serializer<T> for F
where
    T: ?Sized,
    F: Fn(&T) -> O,
    O: SerializerOutput,
{
    fn write_data(&self, value: &T, buf: &mut BytesMut) -> Result<(), SerializeError> {
        let text = self(value).into_result()?;
        encode::data(buf, text.as_bytes());
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
        Json.write_data(&m, &mut buf).unwrap();
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
        let err = Json.write_data(&m, &mut buf).unwrap_err();
        assert!(err.to_string().contains("key must be a string"), "{err}");
        assert_eq!(&buf[..], b"keep");
    }

    #[test]
    fn custom_fn_output_is_split() {
        let f = |v: &u32| format!("{v}\n{v}");
        let mut buf = BytesMut::new();
        f.write_data(&7, &mut buf).unwrap();
        assert_eq!(&buf[..], b"data: 7\ndata: 7\n");

        let g = |_: &u32| -> Result<String, std::fmt::Error> { Err(std::fmt::Error) };
        assert!(g.write_data(&7, &mut buf).is_err());
        assert_eq!(&buf[..], b"data: 7\ndata: 7\n");
    }
}
