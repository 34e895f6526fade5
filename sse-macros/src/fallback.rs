//! What is emitted when the function cannot become a handler (generic, takes `self`, …):
//! a stub of the expected shape next to the errors, so that `App::new().service(events)`
//! or `web::get().to(feed)` elsewhere produce no follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::{args::Args, expand::Attrs};

// Input:  #[sse("/events")] async fn events<T>() { .. }
// Output: struct events; impl HttpServiceFactory for events { fn register(..) {} }
// Input:  impl Feeds { #[sse("/feed")] async fn feed(&self) { .. } }
// Output: impl Feeds { const feed: Unusable = Unusable; }
// Input:  #[sse] async fn feed<T>() { .. }
// Output: async fn feed() -> HttpResponse { unreachable!() }
//
// A function that takes `self` is in an `impl` block, where a struct cannot be declared:
// an associated const stands in for the service (`.service(Feeds::feed)`).
pub(crate) fn stub(args: &Args, item: &ItemFn) -> TokenStream {
    let krate = args.krate();
    let aw = quote!(#krate::__private::actix_web);
    let name = &item.sig.ident;
    let vis = &item.vis;
    let attrs = Attrs::new(&item.attrs);
    let (outer_attrs, lints) = (&attrs.outer, &attrs.lints_elsewhere);
    let cfgs = outer_attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let method = matches!(item.sig.inputs.first(), Some(syn::FnArg::Receiver(_)));
    match &args.path {
        Some(_) if method => quote! {
            #(#outer_attrs)*
            #(#lints)*
            #[allow(non_upper_case_globals)]
            #vis const #name: #krate::__private::Unusable = #krate::__private::Unusable;
        },
        Some(_) => quote! {
            #(#outer_attrs)*
            #(#lints)*
            #[allow(non_camel_case_types)]
            #vis struct #name;

            #(#cfgs)*
            #(#lints)*
            impl #aw::dev::HttpServiceFactory for #name {
                fn register(self, _: &mut #aw::dev::AppService) {}
            }
        },
        None => quote! {
            #(#outer_attrs)*
            #(#lints)*
            #vis async fn #name() -> #aw::HttpResponse {
                ::core::unreachable!()
            }
        },
    }
}
