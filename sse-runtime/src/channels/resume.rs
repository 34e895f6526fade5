//! [`ResumeFrom`]: where a subscription starts, from the client's `Last-Event-ID`.

use crate::LastEventId;

/// Where a subscription starts: what [`Channels::subscribe`](super::Channels::subscribe)
/// takes as the client's `Last-Event-ID`.
///
/// Made from the extractor (`&last`, which keeps an unreadable header apart from no
/// header), from an id (`"…"`, `Some("…")`), or from `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeFrom<'a> {
    /// No id (or an empty one): from now on.
    Start,
    /// After the event with this id: exactly what was missed, or a reset event if that is
    /// gone or the id is not one of this hub's.
    Id(&'a str),
    /// The client sent an id that could not be read (see
    /// [`LastEventId::is_unreadable`]): a reset event (`unknown-id`), then live events.
    Unreadable,
}

impl<'a> ResumeFrom<'a> {
    /// The id, if this is one (and not empty).
    pub(crate) fn id(self) -> Option<&'a str> {
        match self {
            ResumeFrom::Id(id) if !id.is_empty() => Some(id),
            _ => None,
        }
    }
}

/// What [`Channels::subscribe`](super::Channels::subscribe) takes as the client's
/// `Last-Event-ID`: the [`LastEventId`] extractor (`&last`), an id (`&str`, `&String`,
/// `Some(&str)`), `None`, or a [`ResumeFrom`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Last-Event-ID` to resume from",
    label = "expected `&LastEventId`, `&str`, `Option<&str>` or `None`",
    note = "pass the extractor itself (`&last`), or the id as a `&str`: `&id`, `Some(id.as_str())`"
)]
pub trait IntoResumeFrom<'a> {
    /// Where the subscription starts.
    fn into_resume_from(self) -> ResumeFrom<'a>;
}

impl<'a> IntoResumeFrom<'a> for ResumeFrom<'a> {
    fn into_resume_from(self) -> ResumeFrom<'a> {
        self
    }
}

impl<'a> IntoResumeFrom<'a> for Option<&'a str> {
    fn into_resume_from(self) -> ResumeFrom<'a> {
        self.map_or(ResumeFrom::Start, ResumeFrom::Id)
    }
}

impl<'a> IntoResumeFrom<'a> for &'a str {
    fn into_resume_from(self) -> ResumeFrom<'a> {
        ResumeFrom::Id(self)
    }
}

impl<'a> IntoResumeFrom<'a> for &'a String {
    fn into_resume_from(self) -> ResumeFrom<'a> {
        ResumeFrom::Id(self)
    }
}

impl<'a> IntoResumeFrom<'a> for &'a LastEventId {
    fn into_resume_from(self) -> ResumeFrom<'a> {
        if self.is_unreadable() {
            ResumeFrom::Unreadable
        } else {
            self.as_deref().into_resume_from()
        }
    }
}
