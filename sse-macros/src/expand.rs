//! Builds the handler: the user's function becomes an inner `async fn` driven by an `Sse`
//! body, wrapped in an actix-web handler (no path) or service factory (with a path).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{spanned::Spanned, Attribute, FnArg, ItemFn};

use crate::{
    args::{self, Args, Heartbeat, Serialize},
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
        (Style::Stream, _) => Mode::Stream,
        (Style::Push, None) => Mode::Push { serializer: None },
        (Style::Push, Some(Serialize::Json(span))) => Mode::Push {
            serializer: Some(quote_spanned!(*span=> #krate::__private::Json)),
        },
        (Style::Push, Some(Serialize::Fn(path))) => Mode::Push {
            serializer: Some(quote!(#path)),
        },
    };
    Rewrite::new(&krate, &tx, mode, errors).block(&mut item.block);

    let handler = handler_fn(&args, &item, &style, &krate, &tx);
    let items = match &args.path {
        Some(path) => service(&args, &item, path, handler, &krate),
        None => {
            let (outer_attrs, _) = split_attrs(&item.attrs);
            let vis = &item.vis;
            quote! {
                #(#outer_attrs)*
                #vis #handler
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

/// Attributes that describe the endpoint (docs, `cfg`, `deprecated`) go on what the user
/// names; the others (lints, instrumentation) stay on the function holding the body.
pub(crate) fn split_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<&Attribute>) {
    attrs.iter().partition(|a| {
        let p = a.path();
        p.is_ident("doc") || p.is_ident("cfg") || p.is_ident("deprecated")
    })
}

// Input:
//     #[sse(heartbeat = "10ms")]
//     async fn feed(room: web::Path<String>) { send!("hi"); }
// Output:
//     async fn feed(__arg0: web::Path<String>) -> impl Responder {
//         async fn __sse_handler(__tx: Sender, room: web::Path<String>) {
//             unhandled(__tx.send("hi").await);
//         }
//         Sse::from_fn(move |__tx| __sse_handler(__tx, __arg0))
//             .heartbeat(Duration::from_millis(10))
//     }
//
// The body stays in a function with the user's own signature, so its return type is
// checked as written (`?` converts into the declared error type) and every span in it is
// the user's.
fn handler_fn(
    args: &Args,
    item: &ItemFn,
    style: &Style,
    krate: &TokenStream,
    tx: &Ident,
) -> TokenStream {
    let aw = quote!(#krate::__private::actix_web);
    let name = &item.sig.ident;
    let (_, inner_attrs) = split_attrs(&item.attrs);
    let inputs = &item.sig.inputs;
    let output = &item.sig.output;
    let block = &item.block;

    let mut outer_params = Vec::new();
    let mut forward = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if let FnArg::Typed(pt) = input {
            let arg = format_ident!("__arg{}", i, span = Span::mixed_site());
            let ty = &pt.ty;
            outer_params.push(quote!(#arg: #ty));
            forward.push(arg);
        }
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
    let at = |ident: &Ident| Ident::new(&ident.to_string(), ident.span().located_at(ret_span));
    let (prelude, configure) = config(args, krate, ret_span);
    // An item, not a local: mixed-site would resolve it like call-site anyway. Its full
    // span is the return type's so that `__sse_handler(..)` starts on a user-located token.
    let inner = Ident::new("__sse_handler", ret_span);
    let tx = at(tx);
    let forward: Vec<Ident> = forward.iter().map(at).collect();
    let (inner_fn, body) = match style {
        Style::Push => {
            let respond = here(quote!(#krate::__private::respond_fn));
            (
                quote! {
                    #(#inner_attrs)*
                    async fn #inner(#tx: #krate::__private::Sender, #inputs) #output #block
                },
                if forward.is_empty() {
                    // No closure: `|tx| handler(tx)` would be clippy's `redundant_closure`
                    // in the user's code.
                    quote_spanned!(ret_span=> #respond(#inner, #configure))
                } else {
                    quote_spanned! {ret_span=>
                        #respond(move |#tx| #inner(#tx, #(#forward),*), #configure)
                    }
                },
            )
        }
        Style::Stream => {
            let stream = quote_spanned!(ret_span=> #inner(#(#forward),*).await);
            let build = match &args.serialize {
                None => {
                    let respond = here(quote!(#krate::__private::respond_stream));
                    quote_spanned!(ret_span=> #respond(#stream, #configure))
                }
                Some(ser) => {
                    let respond = here(quote!(#krate::__private::respond_serialized_stream));
                    let ser = match ser {
                        Serialize::Json(_) => here(quote!(#krate::__private::Json)),
                        Serialize::Fn(path) => quote!(#path),
                    };
                    quote_spanned!(ret_span=> #respond(#stream, #ser, #configure))
                }
            };
            (
                quote_spanned! {ret_span=>
                    #(#inner_attrs)*
                    async fn #inner(#inputs) #output #block
                },
                build,
            )
        }
    };
    let responder = here(quote!(impl #aw::Responder));

    // The body's braces too: the opaque return type is checked at the body's span.
    let mut body = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            #inner_fn
            #prelude
            #body
        },
    );
    body.set_span(ret_span);
    quote! {
        async fn #name(#(#outer_params),*) -> #responder #body
    }
}

/// The closure configuring the `Sse` (`heartbeat`, `no_heartbeat`, `heartbeat_event_or_log`,
/// `retry`), and the statements it needs first. Calls are written `Sse::heartbeat(sse, ..)`
/// so that every expression starts and ends on a token located at `span`.
fn config(args: &Args, krate: &TokenStream, span: Span) -> (TokenStream, TokenStream) {
    let sse = Ident::new("__sse", Span::mixed_site().located_at(span));
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
    (prelude, quote_spanned!(span=> move |#sse| #acc))
}

// Input:
//     #[sse("/events", name = "ev", guard = "is_local", wrap = "Logger::default()")]
//     pub async fn events() { .. }
// Output:
//     #[allow(non_camel_case_types)]
//     pub struct events;
//     impl HttpServiceFactory for events {
//         fn register(self, __config: &mut AppService) {
//             async fn events() -> impl Responder { .. }
//             let __resource = Resource::new("/events")
//                 .name("ev")
//                 .guard(guard::Get())
//                 .guard(guard::fn_guard(is_local))
//                 .wrap(Logger::default())
//                 .to(events);
//             HttpServiceFactory::register(__resource, __config);
//         }
//     }
fn service(
    args: &Args,
    item: &ItemFn,
    path: &syn::LitStr,
    handler: TokenStream,
    krate: &TokenStream,
) -> TokenStream {
    let aw = quote!(#krate::__private::actix_web);
    let name = &item.sig.ident;
    let vis = &item.vis;
    let (outer_attrs, _) = split_attrs(&item.attrs);
    let cfgs: Vec<_> = outer_attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let config = Ident::new("__config", Span::mixed_site());
    let resource = Ident::new("__resource", Span::mixed_site());
    let resource_name = match &args.name {
        Some((_, lit)) => lit.clone(),
        None => syn::LitStr::new(&name.to_string(), name.span()),
    };
    let guards = args
        .guards
        .iter()
        .map(|(_, path)| quote_spanned!(path.span()=> .guard(#aw::guard::fn_guard(#path))));
    let wraps = args
        .wraps
        .iter()
        .map(|(_, expr)| quote_spanned!(expr.span()=> .wrap(#expr)));
    quote! {
        #(#outer_attrs)*
        #[allow(non_camel_case_types)]
        #vis struct #name;

        #(#cfgs)*
        impl #aw::dev::HttpServiceFactory for #name {
            fn register(self, #config: &mut #aw::dev::AppService) {
                #handler
                let #resource = #aw::Resource::new(#path)
                    .name(#resource_name)
                    .guard(#aw::guard::Get())
                    #(#guards)*
                    #(#wraps)*
                    .to(#name);
                #aw::dev::HttpServiceFactory::register(#resource, #config);
            }
        }
    }
}
