//! The attribute's arguments: `#[sse("/path", key = value, ..)]` → [`Args`].
//!
//! Every mistake is collected (not just the first) and reported on the offending token.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::{
    ext::IdentExt,
    parse::{ParseStream, Parser},
    spanned::Spanned,
    Expr, Ident, LitStr, Path, Token,
};

use crate::Errors;

/// The attribute's keys, in the order the docs list them. "expected one of …" and
/// "did you mean …" are built from this table.
pub(crate) const HEARTBEAT: &str = "heartbeat";
pub(crate) const HEARTBEAT_EVENT: &str = "heartbeat_event";
pub(crate) const SERIALIZE: &str = "serialize";
pub(crate) const RETRY: &str = "retry";
pub(crate) const HEAD_WAIT: &str = "head_wait";
pub(crate) const METHOD: &str = "method";
pub(crate) const NAME: &str = "name";
pub(crate) const GUARD: &str = "guard";
pub(crate) const WRAP: &str = "wrap";
pub(crate) const CRATE: &str = "crate";
pub(crate) const KEYS: &[&str] = &[
    HEARTBEAT,
    HEARTBEAT_EVENT,
    SERIALIZE,
    RETRY,
    HEAD_WAIT,
    METHOD,
    NAME,
    GUARD,
    WRAP,
    CRATE,
];

/// Keys that other libraries use for what we call something else.
const RENAMED: &[(&str, &str)] = &[
    ("keep_alive", "heartbeat"),
    ("keepalive", "heartbeat"),
    ("interval", "heartbeat"),
    ("ping", "heartbeat"),
    ("serializer", "serialize"),
    ("serde", "serialize"),
    ("path", "the first argument: `#[sse(\"/events\")]`"),
];

/// Keys that do not exist because the thing they would set lives elsewhere.
const NOT_HERE: &[(&str, &str)] = &[
    (
        "event",
        "the event name is set per event: `send!(value, event = \"name\")`",
    ),
    (
        "id",
        "the event id is set per event: `send!(value, id = ..)`",
    ),
];

/// The example shown when the attribute's shape is wrong.
pub(crate) const SHAPE: &str = "`#[sse(\"/path\", heartbeat = \"15s\")]`";

/// A duration literal checked at compile time.
#[derive(Clone, Copy)]
pub(crate) struct DurationLit {
    pub(crate) value: Duration,
    pub(crate) span: Span,
}

pub(crate) enum Heartbeat {
    Period(DurationLit),
    Off,
}

pub(crate) enum Serialize {
    /// `serialize = json`
    Json(Span),
    /// `serialize = path::to::fn`
    Fn(Path),
    /// A value that is neither (reported): `send!` and stream items are not checked, so
    /// that no follow-on error appears.
    Invalid,
}

/// The HTTP method a service answers (`GET` by default): fetch-based clients and
/// LLM-style APIs stream answers to a `POST`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub(crate) const ALL: &'static [Method] = &[
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    /// The lowercase name, as written in the attribute.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// actix-web's guard for it (`guard::Post`).
    pub(crate) fn guard(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Post => "Post",
            Method::Put => "Put",
            Method::Patch => "Patch",
            Method::Delete => "Delete",
        }
    }

    /// Case-insensitive, as HTTP writes methods in upper case.
    fn parse(text: &str) -> Option<Method> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(text))
    }
}

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) path: Option<LitStr>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) heartbeat_event: Option<(Ident, Expr)>,
    pub(crate) serialize: Option<Serialize>,
    pub(crate) retry: Option<DurationLit>,
    pub(crate) head_wait: Option<(Ident, DurationLit)>,
    pub(crate) method: Option<(Ident, Method)>,
    pub(crate) name: Option<(Ident, LitStr)>,
    pub(crate) guards: Vec<(Ident, Path)>,
    pub(crate) wraps: Vec<(Ident, Expr)>,
    pub(crate) krate: Option<Path>,
}

impl Args {
    /// The path generated code names the facade by: `crate = ".."` or `::actix_sse`.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote::quote!(#path),
            None => quote::quote!(::actix_sse),
        }
    }
}

/// Parses the attribute's arguments. Errors are pushed to `errors`; whatever parsed is
/// returned, so expansion can still emit a stub of the right shape.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = |input: ParseStream<'_>| parse_into(input, &mut args, errors);
    if let Err(e) = parser.parse2(tokens) {
        errors.push(e);
    }
    args
}

fn parse_into(input: ParseStream<'_>, args: &mut Args, errors: &mut Errors) -> syn::Result<()> {
    // Input: "/events", heartbeat = "10ms"
    if input.peek(LitStr) {
        let path: LitStr = input.parse()?;
        check_path(&path, errors);
        args.path = Some(path);
        if input.is_empty() {
            return Ok(());
        }
        input.parse::<Token![,]>()?;
    }
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            let msg = if args.path.is_some() {
                "the route path is given twice; `#[sse]` takes one path"
            } else {
                "the route path must be the first argument, like `#[sse(\"/events\", heartbeat = \"15s\")]`"
            };
            errors.push(syn::Error::new(lit.span(), msg));
        } else if !(input.peek(Ident::peek_any) && input.peek2(Token![=])) {
            // Not `key = value`: a const, a macro call, a bare word …
            let expr: Expr = input.parse()?;
            let bare_key = match &expr {
                Expr::Path(p) => p.path.get_ident().filter(|i| is_key(i)),
                _ => None,
            };
            let msg = match bare_key {
                Some(key) => format!("`{key}` needs a value, like {SHAPE}"),
                None if seen.is_empty() && args.path.is_none() => {
                    "the route path must be a string literal, like `#[sse(\"/events\")]`; \
                     a const or a macro call cannot be read by `#[sse]`"
                        .to_owned()
                }
                None => format!("expected `key = value`, like {SHAPE}"),
            };
            errors.push(syn::Error::new_spanned(&expr, msg));
        } else {
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            let name = key.to_string();
            let repeatable = name == GUARD || name == WRAP;
            if KEYS.contains(&name.as_str()) && !repeatable && seen.contains(&name) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("`{name}` is set more than once; remove one of them"),
                ));
                // Parse the value anyway so the next key is read correctly.
                let _ = input.parse::<Expr>()?;
            } else {
                parse_value(input, &key, args, errors)?;
            }
            seen.push(name);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn is_key(ident: &Ident) -> bool {
    KEYS.iter().any(|k| ident == k)
}

fn parse_value(
    input: ParseStream<'_>,
    key: &Ident,
    args: &mut Args,
    errors: &mut Errors,
) -> syn::Result<()> {
    let name = key.to_string();
    match name.as_str() {
        HEARTBEAT => {
            let Some(lit) = string_value(input, key, "\"15s\"", errors)? else {
                return Ok(());
            };
            if lit.value() == "off" {
                args.heartbeat = Some(Heartbeat::Off);
            } else {
                args.heartbeat = duration(&lit, HEARTBEAT, errors).map(Heartbeat::Period);
            }
        }
        RETRY => {
            let Some(lit) = string_value(input, key, "\"3s\"", errors)? else {
                return Ok(());
            };
            args.retry = duration(&lit, RETRY, errors);
        }
        HEAD_WAIT => {
            let Some(lit) = string_value(input, key, "\"5s\"", errors)? else {
                return Ok(());
            };
            args.head_wait = duration(&lit, HEAD_WAIT, errors).map(|d| (key.clone(), d));
        }
        HEARTBEAT_EVENT => {
            let expr: Expr = input.parse()?;
            args.heartbeat_event = Some((key.clone(), expr));
        }
        SERIALIZE => {
            let expr: Expr = input.parse()?;
            match expr {
                Expr::Path(p) if p.qself.is_none() && p.path.is_ident("json") => {
                    args.serialize = Some(Serialize::Json(p.path.span()));
                }
                Expr::Path(p) if p.qself.is_none() => args.serialize = Some(Serialize::Fn(p.path)),
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) if s.value() == "json" => {
                    args.serialize = Some(Serialize::Invalid);
                    errors.push(syn::Error::new(
                        s.span(),
                        "`serialize` takes `json` or a path to a function, not a string: \
                         write `serialize = json`",
                    ));
                }
                Expr::Closure(c) => {
                    args.serialize = Some(Serialize::Invalid);
                    errors.push(syn::Error::new_spanned(
                        c,
                        "`serialize` takes `json` or a path to a function, not a closure: \
                         define `fn to_data(value: &T) -> String` and write `serialize = to_data`",
                    ));
                }
                other => {
                    args.serialize = Some(Serialize::Invalid);
                    errors.push(syn::Error::new_spanned(
                        other,
                        "`serialize` takes `json` or a path to a function `fn(&T) -> String` \
                         (or `-> Result<String, E>`), like `serialize = json` or \
                         `serialize = my_format::to_data`",
                    ));
                }
            }
        }
        METHOD => {
            if let Some(lit) = string_value(input, key, "\"post\"", errors)? {
                match Method::parse(&lit.value()) {
                    Some(method) => args.method = Some((key.clone(), method)),
                    None => errors.push(syn::Error::new(
                        lit.span(),
                        format!(
                            "`method` takes one of {}, like `method = \"post\"`",
                            Method::ALL
                                .iter()
                                .map(|m| format!("`{}`", m.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                }
            }
        }
        NAME => {
            if let Some(lit) = string_value(input, key, "\"events\"", errors)? {
                if lit.value().is_empty() {
                    errors.push(syn::Error::new(
                        lit.span(),
                        "the resource name cannot be empty",
                    ));
                } else {
                    args.name = Some((key.clone(), lit));
                }
            }
        }
        GUARD => {
            if let Some(lit) = string_value(input, key, "\"my_guard_fn\"", errors)? {
                match lit.parse::<Path>() {
                    Ok(path) => args.guards.push((key.clone(), path)),
                    Err(_) => errors.push(syn::Error::new(
                        lit.span(),
                        "`guard` takes the path of a function `fn(&GuardContext<'_>) -> bool` \
                         in a string, like `guard = \"my_guard_fn\"`",
                    )),
                }
            }
        }
        WRAP => {
            if let Some(lit) = string_value(input, key, "\"Logger::default()\"", errors)? {
                match lit.parse::<Expr>() {
                    Ok(expr) => args.wraps.push((key.clone(), expr)),
                    Err(e) => errors.push(syn::Error::new(
                        lit.span(),
                        format!(
                            "`wrap` takes a middleware expression in a string, \
                             like `wrap = \"Logger::default()\"`: {e}"
                        ),
                    )),
                }
            }
        }
        CRATE => {
            if let Some(lit) = string_value(input, key, "\"actix_sse\"", errors)? {
                match lit.parse::<Path>() {
                    Ok(path) => args.krate = Some(path),
                    Err(_) => errors.push(syn::Error::new(
                        lit.span(),
                        "`crate` takes the path of the `actix-sse` crate as renamed in \
                         Cargo.toml, like `crate = \"sse\"`",
                    )),
                }
            }
        }
        _ => {
            errors.push(unknown_key(key));
            let _ = input.parse::<Expr>()?;
        }
    }
    Ok(())
}

/// A value that must be a string literal; anything else is reported with an example.
fn string_value(
    input: ParseStream<'_>,
    key: &Ident,
    example: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if input.peek(LitStr) {
        return input.parse().map(Some);
    }
    let expr: Expr = input.parse()?;
    errors.push(syn::Error::new_spanned(
        &expr,
        format!("`{key}` takes a string literal, like `{key} = {example}`"),
    ));
    Ok(None)
}

fn unknown_key(key: &Ident) -> syn::Error {
    let name = key.to_string();
    let expected = KEYS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut msg = format!("unknown `#[sse]` argument `{name}`");
    if let Some((_, why)) = NOT_HERE.iter().find(|(k, _)| *k == name) {
        msg.push_str(&format!("; {why}"));
        return syn::Error::new(key.span(), msg);
    }
    if let Some((_, to)) = RENAMED.iter().find(|(k, _)| *k == name) {
        if to.starts_with("the ") {
            msg.push_str(&format!("; the route path is {to}"));
        } else {
            msg.push_str(&format!("; did you mean `{to}`?"));
        }
        return syn::Error::new(key.span(), msg);
    }
    if let Some(close) = closest(&name, KEYS) {
        msg.push_str(&format!("; did you mean `{close}`?"));
    } else {
        msg.push_str(&format!("; expected one of {expected}"));
    }
    syn::Error::new(key.span(), msg)
}

/// The closest candidate within an edit distance of a third of the word (at least 1).
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Route paths must be absolute and have balanced `{}` (actix-web panics at startup
/// otherwise).
fn check_path(path: &LitStr, errors: &mut Errors) {
    let value = path.value();
    if !value.starts_with('/') {
        errors.push(syn::Error::new(
            path.span(),
            format!("the route path must start with `/`: write `\"/{value}\"`"),
        ));
        return;
    }
    let mut depth = 0i32;
    for c in value.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        errors.push(syn::Error::new(
            path.span(),
            "unbalanced `{` `}` in the route path; a dynamic segment looks like `\"/rooms/{room}\"`",
        ));
    }
}

/// The shortest heartbeat period: shorter would flood the connection with heartbeats.
pub(crate) const HEARTBEAT_MIN: Duration = Duration::from_millis(10);
/// The longest heartbeat period: longer is no heartbeat at all, and the deadline
/// `Instant + period` must not overflow. The runtime checks the same range.
pub(crate) const HEARTBEAT_MAX: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest `head_wait` (the runtime's `MAX_HEAD_WAIT`).
pub(crate) const HEAD_WAIT_MAX: Duration = Duration::from_secs(60);

/// Why a duration literal was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not an integer and a unit.
    Invalid,
    /// An integer and a unit, too large for a `u64` count of that unit or for a `Duration`.
    TooLarge,
}

/// `"250us"`, `"10ms"`, `"15s"`, `"1m"`, `"2h"` → a `Duration`, checked at compile time.
/// Arithmetic is checked: any number of digits is an error, never a panic.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .ok_or(DurationError::Invalid)?;
    let (digits, unit) = text.split_at(split);
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return Err(DurationError::Invalid);
    }
    let of_unit: fn(u64) -> Option<Duration> = match unit {
        "us" | "µs" => |n| Some(Duration::from_micros(n)),
        "ms" => |n| Some(Duration::from_millis(n)),
        "s" => |n| Some(Duration::from_secs(n)),
        "m" => |n| n.checked_mul(60).map(Duration::from_secs),
        "h" => |n| n.checked_mul(60 * 60).map(Duration::from_secs),
        _ => return Err(DurationError::Invalid),
    };
    // Only digits are left, so parsing fails only when the number does not fit a `u64`.
    let n: u64 = digits.parse().map_err(|_| DurationError::TooLarge)?;
    of_unit(n).ok_or(DurationError::TooLarge)
}

/// `retry` is sent as `retry: <milliseconds>`: it must fit in a `u64` of milliseconds.
pub(crate) fn check_retry(
    lit: &LitStr,
    parsed: Result<Duration, DurationError>,
) -> syn::Result<Duration> {
    let fits = |d: &Duration| u64::try_from(d.as_millis()).is_ok();
    match parsed {
        Ok(d) if fits(&d) => Ok(d),
        Ok(_) | Err(DurationError::TooLarge) => Err(syn::Error::new(
            lit.span(),
            format!(
                "`retry` must fit in a `u64` of milliseconds (at most \
                 `18446744073709551615ms`), not `{}`: use a delay like `retry = \"3s\"`",
                lit.value()
            ),
        )),
        Err(DurationError::Invalid) => unreachable!("reported by the caller"),
    }
}

fn duration(lit: &LitStr, key: &str, errors: &mut Errors) -> Option<DurationLit> {
    let parsed = parse_duration(&lit.value());
    let checked = match (key, parsed) {
        (_, Err(DurationError::Invalid)) => {
            let off = if key == HEARTBEAT {
                ", or `\"off\"`"
            } else {
                ""
            };
            Err(syn::Error::new(
                lit.span(),
                format!(
                    "invalid duration `{}`: expected an integer and a unit \
                     (`us`, `ms`, `s`, `m` or `h`) with no space, like `\"10ms\"` or `\"15s\"`{off}",
                    lit.value()
                ),
            ))
        }
        (HEARTBEAT, Ok(d)) if (HEARTBEAT_MIN..=HEARTBEAT_MAX).contains(&d) => Ok(d),
        (HEAD_WAIT, Ok(d)) if d <= HEAD_WAIT_MAX => Ok(d),
        (HEAD_WAIT, _) => Err(syn::Error::new(
            lit.span(),
            format!(
                "`head_wait` must be at most `60s`, not `{}`: clients and proxies give up \
                 on a response that has not started; answer sooner, or send a first event \
                 and check afterwards",
                lit.value()
            ),
        )),
        (HEARTBEAT, _) => Err(syn::Error::new(
            lit.span(),
            format!(
                "heartbeat period must be between `10ms` and `24h`, not `{}`: use a period \
                 like `heartbeat = \"15s\"`, or `heartbeat = \"off\"`",
                lit.value()
            ),
        )),
        (_, parsed) => check_retry(lit, parsed),
    };
    match checked {
        Ok(value) => Some(DurationLit {
            value,
            span: lit.span(),
        }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The tokens of `::core::time::Duration::from_…(n)` for a checked duration.
pub(crate) fn duration_tokens(d: &DurationLit) -> TokenStream {
    let span = d.span;
    let v = d.value;
    if v.subsec_nanos() == 0 {
        let secs = v.as_secs();
        quote::quote_spanned!(span=> ::core::time::Duration::from_secs(#secs))
    } else if v.subsec_nanos() % 1_000_000 == 0 {
        let ms = v.as_millis() as u64;
        quote::quote_spanned!(span=> ::core::time::Duration::from_millis(#ms))
    } else {
        let us = v.as_micros() as u64;
        quote::quote_spanned!(span=> ::core::time::Duration::from_micros(#us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1_000ms"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(
            parse_duration("18446744073709551615s"),
            Ok(Duration::from_secs(u64::MAX))
        );
        for bad in [
            "",
            "10",
            "ms",
            "10 ms",
            "1.5s",
            "-1s",
            "10sec",
            "9999999999999999999999sec",
        ] {
            assert_eq!(parse_duration(bad), Err(DurationError::Invalid), "{bad}");
        }
        for huge in [
            "18446744073709551616s",
            "99999999999999999999999999999999999999999999us",
            "18446744073709551615m",
            "18446744073709551615h",
            "307445734561825861m",
        ] {
            assert_eq!(parse_duration(huge), Err(DurationError::TooLarge), "{huge}");
        }
    }

    #[test]
    fn heartbeat_range() {
        let ok = |text: &str| {
            let mut errors = Errors::default();
            let lit = LitStr::new(text, Span::call_site());
            duration(&lit, HEARTBEAT, &mut errors).is_some()
        };
        for good in ["10ms", "10000us", "15s", "1440m", "24h"] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "0ms",
            "9ms",
            "9999us",
            "1441m",
            "25h",
            "18446744073709551615s",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn retry_fits_in_u64_milliseconds() {
        let ok = |text: &str| {
            let mut errors = Errors::default();
            let lit = LitStr::new(text, Span::call_site());
            duration(&lit, RETRY, &mut errors).is_some()
        };
        assert!(ok("0ms"));
        assert!(ok("18446744073709551615ms"));
        assert!(ok("18446744073709551s"));
        assert!(!ok("18446744073709552s"));
        assert!(!ok("18446744073709551615s"));
        assert!(!ok("99999999999999999999ms"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("hearbeat", KEYS), Some("heartbeat"));
        assert_eq!(closest("serialise", KEYS), Some("serialize"));
        assert_eq!(closest("heartbeat_evnt", KEYS), Some("heartbeat_event"));
        assert_eq!(closest("zzz", KEYS), None);
    }
}
