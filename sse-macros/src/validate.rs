//! Checks the annotated function and the arguments against each other, and decides the
//! handler's style (push or stream).

use syn::{spanned::Spanned, FnArg, ItemFn, ReturnType, Type};

use crate::{
    args::{Args, Heartbeat, GUARD, HEAD_WAIT, HEARTBEAT_EVENT, METHOD, NAME, WRAP},
    Errors,
};

/// What the handler's body produces.
pub(crate) enum Style {
    /// Returns `()` or `Result<(), E>` and sends with `send!`.
    Push,
    /// Returns a `Stream` of events, or (`fallible`) a `Result` of one whose `Err` is the
    /// answer instead of the stream.
    Stream { fallible: bool },
}

/// The signature could not be turned into a handler: expansion emits a stub instead.
pub(crate) struct Unusable;

pub(crate) fn check(
    item: &mut ItemFn,
    args: &mut Args,
    errors: &mut Errors,
) -> Result<Style, Unusable> {
    check_args(args, errors);

    let sig = &mut item.sig;
    let mut usable = true;
    // Recoverable: reported, then the function is treated as if it were written right, so
    // its body is still checked and no follow-on error appears.
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!(
                "`#[sse]` functions must be `async`: write `async fn {}(..)`",
                sig.ident
            ),
        ));
        sig.asyncness = Some(Default::default());
    }
    if let Some(c) = sig.constness.take() {
        errors.push(syn::Error::new(
            c.span,
            "`#[sse]` functions cannot be `const`; remove `const`",
        ));
    }
    if let Some(u) = sig.unsafety.take() {
        errors.push(syn::Error::new(
            u.span,
            "`#[sse]` functions cannot be `unsafe`: actix-web calls them as ordinary handlers; \
             put the `unsafe` block inside the body",
        ));
    }
    if let Some(abi) = sig.abi.take() {
        errors.push(syn::Error::new_spanned(
            abi,
            "`#[sse]` functions cannot have an `extern` ABI; remove it",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v,
            "`#[sse]` functions cannot be variadic",
        ));
        usable = false;
    }

    // Not recoverable: there is no handler actix-web could call.
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let span = if sig.generics.params.is_empty() {
            sig.generics.where_clause.span()
        } else {
            sig.generics.span()
        };
        errors.push(syn::Error::new(
            span,
            "`#[sse]` functions cannot be generic: actix-web needs concrete extractor types; \
             use a concrete type, or `web::Data<..>` for shared state",
        ));
        usable = false;
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                errors.push(syn::Error::new(
                    r.self_token.span,
                    "`#[sse]` cannot be used on a method that takes `self`: actix-web calls the \
                     handler with extractors only; make it a free function and take shared \
                     state as `web::Data<..>`",
                ));
                usable = false;
            }
            FnArg::Typed(pt) => {
                if let Type::ImplTrait(t) = &*pt.ty {
                    errors.push(syn::Error::new_spanned(
                        t,
                        "`#[sse]` parameters are actix-web extractors and need a concrete type, \
                         like `web::Path<String>` or `web::Data<AppState>`",
                    ));
                    usable = false;
                }
            }
        }
    }
    if !usable {
        return Err(Unusable);
    }

    let style = match &sig.output {
        ReturnType::Type(_, ty) if is_stream(ty) => Style::Stream { fallible: false },
        ReturnType::Type(_, ty) if is_result_of_stream(ty) => Style::Stream { fallible: true },
        _ => Style::Push,
    };
    if let (Style::Stream { .. }, Some((key, _))) = (&style, &args.head_wait) {
        errors.push(syn::Error::new(
            key.span(),
            format!(
                "`{HEAD_WAIT}` has no effect on a stream-style handler: its response goes out \
                 when the function returns its stream (return `Err(..)` from \
                 `-> Result<impl Stream<Item = ..>, E>` to answer otherwise); remove it"
            ),
        ));
        args.head_wait = None;
    }
    Ok(style)
}

/// Combinations of arguments that make no sense; the offending argument is dropped.
fn check_args(args: &mut Args, errors: &mut Errors) {
    if args.path.is_none() {
        let route_only = "without a path, `#[sse]` makes a plain handler for \
                          `web::get().to(..)`; set";
        if let Some((key, _)) = args.name.take() {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{NAME}` needs a route path, like `#[sse(\"/events\", name = \"events\")]`; \
                     {route_only} the name where it is registered: `web::resource(\"/events\").name(\"events\")`"
                ),
            ));
        }
        if let Some((key, method)) = args.method.take() {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{METHOD}` needs a route path, like `#[sse(\"/events\", method = \"{m}\")]`; \
                     without a path, `#[sse]` makes a plain handler: set the method where it is \
                     registered: `web::{m}().to(..)`",
                    m = method.name()
                ),
            ));
        }
        for (key, _) in args.guards.drain(..) {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{GUARD}` needs a route path, like `#[sse(\"/events\", guard = \"my_guard\")]`; \
                     {route_only} the guard where it is registered: `web::get().guard(..).to(..)`"
                ),
            ));
        }
        for (key, _) in args.wraps.drain(..) {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{WRAP}` needs a route path, like `#[sse(\"/events\", wrap = \"Logger::default()\")]`; \
                     {route_only} the middleware where it is registered: `web::resource(..).wrap(..)`"
                ),
            ));
        }
    }
    if let (Some(Heartbeat::Off), Some((key, _))) = (&args.heartbeat, &args.heartbeat_event) {
        errors.push(syn::Error::new(
            key.span(),
            format!(
                "`{HEARTBEAT_EVENT}` has no effect with `heartbeat = \"off\"`; \
                 remove one of them"
            ),
        ));
        args.heartbeat_event = None;
    }
}

/// `Result<S, E>` (or an alias named `Result`, like `actix_web::Result<S>`) where `S` is a
/// stream (see [`is_stream`]).
fn is_result_of_stream(ty: &Type) -> bool {
    match ty {
        Type::Paren(p) => is_result_of_stream(&p.elem),
        Type::Group(g) => is_result_of_stream(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            if last.ident != "Result" {
                return false;
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(a) => match a.args.first() {
                    Some(syn::GenericArgument::Type(t)) => is_stream(t),
                    _ => false,
                },
                _ => false,
            }
        }
        _ => false,
    }
}

/// `impl Stream<Item = ..>`, `BoxStream<..>`, `Pin<Box<dyn Stream<..>>>`, `ReceiverStream<..>`:
/// a trait or type whose name ends in `Stream`, possibly behind `Pin` or `Box`.
fn is_stream(ty: &Type) -> bool {
    fn bound_is_stream(b: &syn::TypeParamBound) -> bool {
        match b {
            syn::TypeParamBound::Trait(t) => t
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident.to_string().ends_with("Stream")),
            _ => false,
        }
    }
    match ty {
        Type::ImplTrait(t) => t.bounds.iter().any(bound_is_stream),
        Type::TraitObject(t) => t.bounds.iter().any(bound_is_stream),
        Type::Paren(p) => is_stream(&p.elem),
        Type::Group(g) => is_stream(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            if name.ends_with("Stream") {
                return true;
            }
            if name != "Pin" && name != "Box" {
                return false;
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(a) => a.args.iter().any(|arg| match arg {
                    syn::GenericArgument::Type(t) => is_stream(t),
                    _ => false,
                }),
                _ => false,
            }
        }
        _ => false,
    }
}
