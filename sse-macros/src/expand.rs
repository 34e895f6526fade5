//! Builds the handler: the user's function becomes an inner `async fn` driven by an `Sse`
//! body, wrapped in an actix-web handler (no path) or service factory (with a path).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{spanned::Spanned, Attribute, FnArg, ItemFn};

use crate::{
    args::{self, Args, Heartbeat, Method, Serialize},
    fallback,
    rewrite::{set_span, Mode, Rewrite},
    validate::{self, Style},
    Errors,
};

pub(crate) fn expand(mut args: Args, mut item: ItemFn, errors: &mut Errors) -> TokenStream {
    let style = match validate::check(&mut item, &mut args, errors) {
        Ok(style) => style,
        Err(validate::Unusable) => return fallback::stub(&args, &item),
    };
    let krate = args.krate();
    let tx = Ident::new("__tx", Span::mixed_site());

    let mode = match (&style, &args.serialize) {
        (Style::Stream { .. }, _) => Mode::Stream,
        (Style::Push, None) => Mode::Push { serializer: None },
        (Style::Push, Some(ser)) => {
            let span = match ser {
                Serialize::Json(span) => *span,
                _ => Span::call_site(),
            };
            Mode::Push {
                serializer: Some(serializer_tokens(ser, &krate, span)),
            }
        }
    };
    Rewrite::new(&krate, &tx, mode, errors).block(&mut item.block);
    if let Style::Push = style {
        // Input:  async fn events() { send!("hi"); }
        // Output: async fn events() {
        //             let __tx = ::actix_sse::__private::take_sender();
        //             unhandled(Sender::send(&__tx, "hi").await);
        //         }
        // The sender is not a parameter: the function keeps the user's signature.
        let take: syn::Stmt = syn::parse_quote!(let #tx = #krate::__private::take_sender(););
        item.block.stmts.insert(0, take);
    }

    let attrs = Attrs::new(&item.attrs);
    let items = match &args.path {
        Some(path) => {
            // In the service's `const _` block: private.
            let handler = handler_fn(&args, &item, &style, &krate, &attrs, None);
            service(&args, &item, path, handler, &krate, &attrs)
        }
        None => {
            // Input:  #[doc = ".."] #[sse] #[allow(..)] pub(crate) async fn events() { .. }
            // Output: #[doc = ".."] #[allow(..)] pub(crate) async fn events() -> impl Responder { .. }
            // Every attribute goes before the visibility, wherever it was written.
            let outer = &attrs.outer;
            let handler = handler_fn(&args, &item, &style, &krate, &attrs, Some(&item.vis));
            quote! {
                #(#outer)*
                #handler
            }
        }
    };
    // Input:  use actix_sse::sse;  #[sse(..)] async fn events() { send!(x); }
    // Output: #[allow(unused_imports)] use ::actix_sse::__private::macros::*;  ..
    //
    // The rewrite marks the user's `use actix_sse::send;` as used with `use send as _;` in
    // the body. That `send` must resolve whatever the user imported: with only `sse`
    // imported, it resolves to this glob; an explicit import of the user's shadows a glob,
    // so it is the one used; another glob of the same macros (the prelude) is no conflict.
    // Several handlers in one scope repeat the same glob, which is allowed.
    quote! {
        #[allow(unused_imports)]
        use #krate::__private::macros::*;
        #items
    }
}

/// Lint-level attributes.
const LINTS: &[&str] = &["allow", "warn", "deny", "forbid", "expect"];

/// The user's attributes, by where they go.
pub(crate) struct Attrs<'a> {
    /// Docs, `cfg`, `deprecated`: on what the user names (the struct or the handler).
    pub(crate) outer: Vec<&'a Attribute>,
    /// Lint levels (`#[allow]`, `#[expect]`, …, or a `cfg_attr` of only those): on the
    /// function holding the body as written, and on every other generated item as `allow`
    /// for `expect` (a lint fires in one of them only, the others would report the
    /// expectation unfulfilled).
    pub(crate) lints: Vec<&'a Attribute>,
    /// The lint levels for the other generated items.
    pub(crate) lints_elsewhere: Vec<Attribute>,
    /// Everything else (`#[tracing::instrument]`, `#[must_use]`, …): on the function
    /// holding the body, which has the user's name and parameters.
    pub(crate) inner: Vec<&'a Attribute>,
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(attrs: &'a [Attribute]) -> Self {
        let mut out = Attrs {
            outer: Vec::new(),
            lints: Vec::new(),
            lints_elsewhere: Vec::new(),
            inner: Vec::new(),
        };
        for attr in attrs {
            let p = attr.path();
            if p.is_ident("doc") || p.is_ident("cfg") || p.is_ident("deprecated") {
                out.outer.push(attr);
            } else if is_lint(attr) {
                out.lints.push(attr);
                let mut elsewhere = attr.clone();
                if let syn::Meta::List(list) = &mut elsewhere.meta {
                    if list.path.is_ident("expect") {
                        let span = list.path.span();
                        list.path = Ident::new("allow", span).into();
                    }
                }
                out.lints_elsewhere.push(elsewhere);
            } else {
                out.inner.push(attr);
            }
        }
        out
    }
}

fn is_lint(attr: &Attribute) -> bool {
    let path = attr.path();
    if LINTS.iter().any(|l| path.is_ident(l)) {
        return true;
    }
    // rustc expands `cfg_attr` before running `#[sse]`; kept for other callers.
    path.is_ident("cfg_attr")
        && attr
            .parse_args_with(|input: syn::parse::ParseStream<'_>| {
                let _predicate: syn::Meta = input.parse()?;
                input.parse::<syn::Token![,]>()?;
                let metas =
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated(
                        input,
                    )?;
                Ok(!metas.is_empty()
                    && metas
                        .iter()
                        .all(|m| LINTS.iter().any(|l| m.path().is_ident(l))))
            })
            .unwrap_or(false)
}

/// Functions named like the generated bindings, to declare first in each scope that binds
/// them.
///
/// Mixed-site hygiene keeps generated locals apart from the user's locals, not from the
/// user's items: an identifier pattern that names a unit struct or a const in scope is a
/// pattern matching that item, not a binding (`#[sse("/tx")] async fn __tx()` defines a
/// unit struct `__tx`). A function of the same name, declared in the scope, hides such an
/// item there, and a binding may shadow a function.
fn shadow(names: &[&Ident]) -> TokenStream {
    quote! {
        #(
            #[allow(dead_code, non_snake_case)]
            fn #names() {}
        )*
    }
}

// Input:
//     #[sse(heartbeat = "10ms")]
//     async fn feed(room: web::Path<String>) { send!("hi"); }
// Output:
//     async fn feed(room: web::Path<String>) -> impl Responder {
//         respond_fn(
//             ({
//                 fn __tx() {}
//                 async fn feed(room: web::Path<String>) {
//                     let __tx = take_sender();
//                     unhandled(Sender::send(&__tx, "hi").await);
//                 }
//                 feed
//             })(room),
//             {
//                 fn __sse() {}
//                 move |__sse| Sse::heartbeat(__sse, Duration::from_millis(10))
//             },
//         )
//     }
//
// The body stays in a function with the user's own name and signature, so its return type
// is checked as written (`?` converts into the declared error type), every span in it is
// the user's, and attributes on it (`#[tracing::instrument]`) see what the user wrote. It
// is declared in a block of its own: an item declared in the handler's body would hide the
// handler's parameters of the same name. The handler's parameters keep the user's names
// where they are plain identifiers: those are known not to name a unit struct or a const
// in scope.
fn handler_fn(
    args: &Args,
    item: &ItemFn,
    style: &Style,
    krate: &TokenStream,
    attrs: &Attrs<'_>,
    vis: Option<&syn::Visibility>,
) -> TokenStream {
    let aw = quote!(#krate::__private::actix_web);
    let name = &item.sig.ident;
    let (lints, lints_elsewhere, inner_attrs) =
        (&attrs.lints, &attrs.lints_elsewhere, &attrs.inner);
    let inputs = &item.sig.inputs;
    let output = &item.sig.output;
    let block = &item.block;

    let mut outer_params = Vec::new();
    let mut forward = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if let FnArg::Typed(pt) = input {
            let arg = match &*pt.pat {
                syn::Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
                _ => format_ident!("__arg{}", i, span = Span::mixed_site()),
            };
            let ty = &pt.ty;
            outer_params.push(quote!(#arg: #ty));
            forward.push(arg);
        }
    }
    // A service (a path) is never called by the user: its handler also takes the probe,
    // last, so the user's extractors get the request's body first. Over HTTP/2 the
    // payload tells the stream that its client left. A path-less handler keeps the user's
    // parameters exactly (it may be called directly).
    if args.path.is_some() {
        let probe = Ident::new("__sse_probe", Span::mixed_site());
        outer_params.push(quote!(#probe: #krate::__private::PeerProbe));
    }

    // The response is built by one `__private::respond_*` call located at the user's
    // return type: a wrong return type (push) or item type (stream) fails that call's
    // bound, reported once, there. Generated paths get that span outright; hygienic
    // idents only its location.
    let ret_span = match output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => Span::call_site(),
    };
    let here = |ts: TokenStream| set_span(ts, ret_span);
    let at = |ident: &Ident| {
        let mut ident = ident.clone();
        ident.set_span(ident.span().located_at(ret_span));
        ident
    };
    // Each scope that binds generated names declares the functions shadowing them, in a
    // block of its own: an item declared where a parameter is in scope would hide it.
    let (prelude, configure, bound) = config(args, style, name, krate, ret_span);
    let shadows = shadow(&bound.iter().collect::<Vec<_>>());
    let mut configure = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            #shadows
            #prelude
            #configure
        },
    );
    configure.set_span(ret_span);
    // A function named `__tx` is already in that block when it is the user's.
    let tx_shadow = match style {
        Style::Push if name != "__tx" => shadow(&[&Ident::new("__tx", Span::mixed_site())]),
        _ => TokenStream::new(),
    };
    // The call starts on a user-located token: the return type's.
    let mut inner = name.clone();
    inner.set_span(ret_span);
    let forward: Vec<Ident> = forward.iter().map(at).collect();
    let mut inner_fn = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            #tx_shadow
            #(#lints)*
            #(#inner_attrs)*
            async fn #name(#inputs) #output #block
            #inner
        },
    );
    inner_fn.set_span(ret_span);
    let mut inner = proc_macro2::Group::new(
        proc_macro2::Delimiter::Parenthesis,
        inner_fn.into_token_stream(),
    );
    inner.set_span(ret_span);
    let body = match style {
        Style::Push => {
            // Input:  async fn events() -> actix_web::Result<()> { .. }
            // Output: respond_fn(&__sse_req, events(), |__out| {
            //             use ::actix_sse::__private::{ReturnsError as _, ReturnsOther as _};
            //             HandlerResult::into_outcome((&__out).__sse_outcome_kind().outcome(__out))
            //         }, ..).await
            // The kind is chosen where the return type is concrete: an error that converts
            // into `actix_web::Error` may become the response, anything else is logged.
            let respond = here(quote!(#krate::__private::respond_fn));
            // The value is named with the return type's own span (not a hygienic one), so
            // that a wrong return type is reported there, on the user's code; the function
            // of the same name hides a user item that would make the parameter a pattern.
            let out = Ident::new("__sse_out", ret_span);
            let kinds = here(quote!(#krate::__private::{ReturnsError as _, ReturnsOther as _}));
            // A trait's own method: a wrong return type fails `HandlerResult` itself, with
            // its message, and no note about a generated function's bounds.
            let into_outcome = here(quote!(#krate::__private::HandlerResult::into_outcome));
            let finish = quote_spanned! {ret_span=>
                {
                    #[allow(dead_code, non_snake_case)]
                    fn #out() {}
                    move |#out| {
                        #[allow(unused_imports)]
                        use #kinds;
                        #into_outcome((&#out).__sse_outcome_kind().outcome(#out))
                    }
                }
            };
            // Input:  async fn events(a: web::Path<u32>, session: SseSession) { .. }
            // Output: respond_fn(session_of({ use ..; [(&a).__sse_session(), (&session)
            //             .__sse_session()] }), events(a, session), ..)
            // The request's `SseSession`, if the handler takes one, is attached before the
            // head (while the handler has sent nothing, it may still be closed, or the
            // client leave): found by type, at each parameter's concrete type.
            let session_kinds = here(quote!(#krate::__private::{IsSession as _, NotSession as _}));
            let session_of = here(quote!(#krate::__private::session_of));
            let sessions = quote_spanned! {ret_span=>
                #session_of({
                    #[allow(unused_imports)]
                    use #session_kinds;
                    [#((&#forward).__sse_session()),*]
                })
            };
            quote_spanned!(ret_span=> #respond(#sessions, #inner(#(#forward),*), #finish, #configure).await)
        }
        Style::Stream { fallible } => {
            // Input:  async fn events() -> impl Stream<Item = u32> { .. }
            // Output: { use ..; check_items(events().await, StreamItem::encode_item)
            //             .__sse_respond(..) }
            // The check names the trait's own method: an item that is not an event fails
            // `StreamItem` once, on the return type, with its message; the response is
            // then built by a stand-in without bounds (see `__private::check_event`).
            let call = quote_spanned!(ret_span=> #inner(#(#forward),*).await);
            let (check, method, kinds) = match &args.serialize {
                None => (
                    quote!(check_items),
                    quote!(StreamItem::encode_item),
                    quote!(RespondStream as _, RespondOther as _),
                ),
                Some(_) => (
                    quote!(check_serialized_items),
                    quote!(Serializer::serialize),
                    quote!(RespondSerializedStream as _, RespondOther as _),
                ),
            };
            let check = here(quote!(#krate::__private::#check));
            let method = here(quote!(#krate::__private::#method));
            let kinds = here(quote!(#krate::__private::{#kinds}));
            let ser = args
                .serialize
                .as_ref()
                .map(|ser| serializer_tokens(ser, krate, ret_span))
                .map(|ser| quote_spanned!(ret_span=> #ser,));
            if !fallible {
                quote_spanned! {ret_span=>
                    {
                        #[allow(unused_imports)]
                        use #kinds;
                        #check(#call, #ser #method).__sse_respond(#configure)
                    }
                }
            } else {
                // Input:  async fn events() -> actix_web::Result<impl Stream<Item = Event>> { .. }
                // Output: { use ..; match events().await {
                //             Ok(s) => Either::Left(check_items(s, ..).__sse_respond(..)),
                //             Err(e) => Either::Right((&e).__sse_answer_kind().answer(e)),
                //         } }
                // An `Err` is the response instead of the stream: an error's (any
                // `Into<actix_web::Error>`), or any `Responder` as it is; see
                // `__private::AnswersError`.
                let stream = Ident::new("__sse_stream", Span::mixed_site().located_at(ret_span));
                let err = Ident::new("__sse_err", Span::mixed_site().located_at(ret_span));
                let shadows = shadow(&[
                    &Ident::new("__sse_stream", Span::mixed_site()),
                    &Ident::new("__sse_err", Span::mixed_site()),
                ]);
                let answer_kinds = here(quote!(#krate::__private::{
                    AnswersError as _, AnswersOther as _, TakeAnswer as _, TakeOther as _
                }));
                let check_answer = here(quote!(#krate::__private::StreamAnswer::__sse_answer));
                let either = here(quote!(#aw::Either));
                quote_spanned! {ret_span=>
                    {
                        #shadows
                        #[allow(unused_imports)]
                        use #kinds;
                        #[allow(unused_imports)]
                        use #answer_kinds;
                        match #call {
                            ::core::result::Result::Ok(#stream) => #either::Left(
                                #check(#stream, #ser #method).__sse_respond(#configure)
                            ),
                            ::core::result::Result::Err(#err) => #either::Right(
                                (&#err)
                                    .__sse_answer_kind()
                                    .answer(#err, #check_answer)
                                    .__sse_take_answer()
                            ),
                        }
                    }
                }
            }
        }
    };
    let responder = here(quote!(impl #aw::Responder));

    // The body's braces are at the return type too: the opaque return type is checked at
    // the body's span.
    let mut body = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, body);
    body.set_span(ret_span);
    quote! {
        #(#lints_elsewhere)*
        #vis async fn #name(#(#outer_params),*) -> #responder #body
    }
}

/// The serializer's tokens: `Json`, the user's function, or `Unchecked` where the argument
/// could not be read (already reported).
pub(crate) fn serializer_tokens(ser: &Serialize, krate: &TokenStream, span: Span) -> TokenStream {
    match ser {
        Serialize::Json(_) => set_span(quote!(#krate::__private::Json), span),
        Serialize::Fn(path) => quote!(#path),
        Serialize::Invalid => set_span(quote!(#krate::__private::Unchecked), span),
    }
}

/// The closure configuring the `Sse` (`heartbeat`, `no_heartbeat`, `heartbeat_event_or_log`,
/// `retry`), and the statements it needs first. Calls are written `Sse::heartbeat(sse, ..)`
/// so that every expression starts and ends on a token located at `span`.
fn config(
    args: &Args,
    style: &Style,
    name: &Ident,
    krate: &TokenStream,
    span: Span,
) -> (TokenStream, TokenStream, Vec<Ident>) {
    let sse = Ident::new("__sse", Span::mixed_site().located_at(span));
    let mut bound = vec![Ident::new("__sse", Span::mixed_site())];
    let method = |name: &str| {
        set_span(quote!(#krate::__private::Sse::), span)
            .into_iter()
            .chain(std::iter::once(proc_macro2::TokenTree::Ident(Ident::new(
                name, span,
            ))))
            .collect::<TokenStream>()
    };
    let mut prelude = TokenStream::new();
    let mut acc = quote!(#sse);
    match &args.heartbeat {
        Some(Heartbeat::Period(d)) => {
            let (m, d) = (method("heartbeat"), args::duration_tokens(d));
            acc = quote_spanned!(span=> #m(#acc, #d));
        }
        Some(Heartbeat::Off) => {
            let m = method("no_heartbeat");
            acc = quote_spanned!(span=> #m(#acc));
        }
        None => {}
    }
    if let Some((_, expr)) = &args.heartbeat_event {
        // Any `IntoEvent` (an `Event`, or a string as its data), evaluated once per
        // request; a type error lands on the user's expression.
        let event = Ident::new("__heartbeat_event", Span::mixed_site());
        bound.push(event.clone());
        let into_event = set_span(
            quote!(#krate::__private::IntoEvent::into_event),
            expr.span(),
        );
        prelude.extend(quote_spanned! {expr.span()=>
            let #event = #into_event(#expr);
        });
        let event = Ident::new("__heartbeat_event", Span::mixed_site().located_at(span));
        let m = method("heartbeat_event_or_log");
        acc = quote_spanned!(span=> #m(#acc, &#event));
    }
    if let Some(d) = &args.retry {
        let (m, d) = (method("retry"), args::duration_tokens(d));
        acc = quote_spanned!(span=> #m(#acc, #d));
    }
    if let (Some((_, d)), Style::Push) = (&args.head_wait, style) {
        let (m, d) = (method("head_wait"), args::duration_tokens(d));
        acc = quote_spanned!(span=> #m(#acc, #d));
    }
    if let Style::Push = style {
        // What a late answer's warning calls the handler: `GET /events`, or its name.
        let label = match &args.path {
            Some(path) => {
                let method = args.method.as_ref().map_or(Method::Get, |(_, m)| *m);
                format!("{} {}", method.name().to_ascii_uppercase(), path.value())
            }
            None => name.to_string(),
        };
        let label = syn::LitStr::new(&label, span);
        let m = method("__label");
        acc = quote_spanned!(span=> #m(#acc, &#label));
    }
    (prelude, quote_spanned!(span=> move |#sse| #acc), bound)
}

// Input:
//     #[sse("/events", name = "ev", guard = "is_local", wrap = "Logger::default()")]
//     pub async fn events() { .. }
// Output:
//     #[allow(non_camel_case_types)]
//     #[derive(Clone, Copy)]
//     pub struct events;
//     const _: () = {
//     async fn events(__sse_probe: PeerProbe) -> impl Responder { .. }
//     impl HttpServiceFactory for events {
//         fn register(self, __config: &mut AppService) {
//             let __resource = Resource::new("/events")
//                 .name("ev")
//                 .guard(guard::Get())              // or `method = "post"`: guard::Post()
//                 .guard(guard::fn_guard(is_local))
//                 .wrap(Logger::default())
//                 .to(events);
//             HttpServiceFactory::register(__resource, __config);
//         }
//     }
//     impl Handler<(PeerProbe,)> for events {
//         type Output = AnyResponder;
//         type Future = Pin<Box<dyn Future<Output = AnyResponder>>>;
//         fn call(&self, (__sse_a0,): (PeerProbe,)) -> Self::Future {
//             Box::pin(async move { AnyResponder::new(events(__sse_a0).await) })
//         }
//     }
//     };
fn service(
    args: &Args,
    item: &ItemFn,
    path: &syn::LitStr,
    handler: TokenStream,
    krate: &TokenStream,
    attrs: &Attrs<'_>,
) -> TokenStream {
    let aw = quote!(#krate::__private::actix_web);
    let name = &item.sig.ident;
    let vis = &item.vis;
    let (outer_attrs, lints) = (&attrs.outer, &attrs.lints_elsewhere);
    let cfgs: Vec<_> = outer_attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let config = Ident::new("__config", Span::mixed_site());
    let resource = Ident::new("__resource", Span::mixed_site());
    // Parameters that are not plain identifiers are bound as `__argN` by the handler,
    // which is inside `register` here: shadowed with the others.
    let args_bound = item
        .sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, input)| {
            !matches!(input, FnArg::Typed(pt) if matches!(&*pt.pat, syn::Pat::Ident(p) if p.subpat.is_none()))
        })
        .map(|(i, _)| format_ident!("__arg{}", i, span = Span::mixed_site()));
    // The handler's parameters in `Handler::call`.
    let n_params = item
        .sig
        .inputs
        .iter()
        .filter(|input| matches!(input, FnArg::Typed(_)))
        .count();
    let vars: Vec<Ident> = (0..=n_params)
        .map(|i| format_ident!("__sse_a{}", i, span = Span::mixed_site()))
        .collect();
    // The handler function is declared beside them: it is the item of its own name.
    let bound: Vec<Ident> = [config.clone(), resource.clone()]
        .into_iter()
        .chain(args_bound)
        .chain(vars.iter().cloned())
        .filter(|ident| ident != name)
        .collect();
    let shadows = shadow(&bound.iter().collect::<Vec<_>>());
    let resource_name = match &args.name {
        Some((_, lit)) => lit.clone(),
        None => syn::LitStr::new(&name.to_string(), name.span()),
    };
    let method = Ident::new(
        args.method
            .as_ref()
            .map_or(Method::Get, |(_, m)| *m)
            .guard(),
        Span::call_site(),
    );
    let guards = args
        .guards
        .iter()
        .map(|(_, path)| quote_spanned!(path.span()=> .guard(#aw::guard::fn_guard(#path))));
    let wraps = args
        .wraps
        .iter()
        .map(|(_, expr)| quote_spanned!(expr.span()=> .wrap(#expr)));
    // `.route("/events", web::get().to(events))` works too: the struct is an actix-web
    // `Handler` of the same extractors (and the probe), its response boxed.
    let types: Vec<&syn::Type> = item
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pt) => Some(&*pt.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let probe_ty = quote!(#krate::__private::PeerProbe);
    let args_ty = quote!((#(#types,)* #probe_ty,));
    let any = quote!(#krate::__private::AnyResponder);
    // The impls are in a `const _` block, with the handler function (which hides the
    // struct's value there) and the functions shadowing `register`'s bindings.
    quote! {
        #(#outer_attrs)*
        #(#lints)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        #vis struct #name;

        #(#cfgs)*
        // A `#[deprecated]` handler's own impl is no use of it.
        #[allow(deprecated)]
        const _: () = {
            #shadows

            #handler

            #(#lints)*
            impl #aw::dev::HttpServiceFactory for #name {
                fn register(self, #config: &mut #aw::dev::AppService) {
                    // In a block: an item here would hide the parameter of the same name.
                    let #resource = #aw::Resource::new(#path)
                        .name(#resource_name)
                        .guard(#aw::guard::#method())
                        #(#guards)*
                        #(#wraps)*
                        .to(#name);
                    #aw::dev::HttpServiceFactory::register(#resource, #config);
                }
            }

            #(#lints)*
            impl #aw::Handler<#args_ty> for #name {
                type Output = #any;
                type Future = ::core::pin::Pin<
                    ::std::boxed::Box<dyn ::core::future::Future<Output = #any>>,
                >;
                fn call(&self, (#(#vars,)*): #args_ty) -> Self::Future {
                    ::std::boxed::Box::pin(async move {
                        #any::new(#name(#(#vars),*).await)
                    })
                }
            }
        };
    }
}
