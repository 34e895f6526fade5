//! The `#[sse]` attribute of actix-sse. Placeholder until the real expansion lands.
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn sse(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
