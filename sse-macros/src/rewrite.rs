//! The body rewrite: `send!`, `close!` and `reject!` become calls on the stream's `Sender`.
//!
//! Only the handler's own body is rewritten. Closures, async blocks and nested items run
//! on their own schedule (or not at all) and have no sender: `send!` found there is
//! reported with our own message and replaced by a placeholder of the same type, so the
//! facade's fallback `send!` does not report it a second time.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::{
    ext::IdentExt,
    parse::{ParseStream, Parser},
    punctuated::Punctuated,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    Block, Expr, Lit, LitStr, Macro, MacroDelimiter, Stmt, Token,
};

use crate::{args, Errors};

/// How `send!` is expanded.
pub(crate) enum Mode {
    /// Push handler: through the sender, plain or with a serializer (the tokens of the
    /// serializer's path: `Json` or the user's function).
    Push { serializer: Option<TokenStream> },
    /// Stream handler: there is no sender; `send!` is a mistake.
    Stream,
}

/// Where the visitor is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Body,
    Closure,
    Async,
    Item,
}

/// Fields allowed after the value in `send!(value, field = ..)`.
const FIELDS: &[&str] = &["event", "id", "retry", "comment"];

pub(crate) struct Rewrite<'a> {
    pub(crate) krate: &'a TokenStream,
    pub(crate) tx: &'a Ident,
    pub(crate) mode: Mode,
    pub(crate) errors: &'a mut Errors,
    scope: Scope,
    /// Inside another macro's tokens, where `yield` belongs to that macro (`stream!`).
    in_macro: bool,
    /// The paths the user wrote (`send`, `actix_sse::close`, …), once each: the rewrite
    /// removes the invocations, so the block gets `use <path> as _;` to keep the user's
    /// `use actix_sse::send;` from being reported as unused.
    used: Vec<TokenStream>,
}

impl<'a> Rewrite<'a> {
    pub(crate) fn new(
        krate: &'a TokenStream,
        tx: &'a Ident,
        mode: Mode,
        errors: &'a mut Errors,
    ) -> Self {
        Rewrite {
            krate,
            tx,
            mode,
            errors,
            scope: Scope::Body,
            in_macro: false,
            used: Vec::new(),
        }
    }

    pub(crate) fn block(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
        // Input:  use actix_sse::send;  ..  { send!(x); }
        // Output: use actix_sse::send;  ..  { #[allow(unused_imports)] use send as _; .. }
        let uses = self
            .used
            .iter()
            .map(|path| -> Stmt { syn::parse_quote!(#[allow(unused_imports)] use #path as _;) });
        block.stmts.splice(0..0, uses.collect::<Vec<_>>());
    }

    fn record(&mut self, path: TokenStream) {
        let text = path.to_string();
        if !self.used.iter().any(|p| p.to_string() == text) {
            self.used.push(path);
        }
    }

    fn nested<T>(&mut self, scope: Scope, node: &mut T, visit: fn(&mut Self, &mut T)) {
        let outer = self.scope;
        // Inside a nested item, closures and async blocks are reported as the item.
        if outer != Scope::Item {
            self.scope = scope;
        }
        visit(self, node);
        self.scope = outer;
    }

    /// `send!`/`close!` → its expansion, or an error and a placeholder.
    fn expand(&mut self, mac: &Macro, kind: Kind, stmt: bool) -> TokenStream {
        match self.try_expand(mac, kind, stmt) {
            Ok(tokens) => tokens,
            Err(e) => {
                self.errors.push(e);
                // Still evaluate what was given (when it parses), so the user's variables
                // are used and no "unused variable" warning follows the error.
                let used = match parse_send.parse2(mac.tokens.clone()) {
                    Ok(args) if kind == Kind::Send => {
                        let exprs =
                            std::iter::once(&args.value).chain(args.fields.iter().map(|(_, e)| e));
                        quote!(#(let _ = &(#exprs);)*)
                    }
                    _ => TokenStream::new(),
                };
                let placeholder = self.placeholder(kind, stmt);
                quote!({ #used #placeholder })
            }
        }
    }

    fn placeholder(&self, kind: Kind, stmt: bool) -> TokenStream {
        let krate = self.krate;
        match (kind, stmt) {
            (_, true) | (Kind::Close | Kind::Reject, false) => quote!(()),
            (Kind::Send, false) => quote! {
                ::core::result::Result::<(), #krate::__private::SendError>::Ok(())
            },
        }
    }

    fn try_expand(&self, mac: &Macro, kind: Kind, stmt: bool) -> syn::Result<TokenStream> {
        let span = mac
            .path
            .segments
            .last()
            .map_or(Span::call_site(), |s| s.ident.span());
        let name = kind.name();
        match (&self.mode, self.scope) {
            (Mode::Stream, _) => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{name}!` cannot be used in an `#[sse]` function that returns a `Stream`: \
                         there is no sender; {}",
                        match kind {
                            Kind::Send => "yield the item from the stream instead \
                                           (`yield value;` inside `async_stream::stream!`)",
                            Kind::Close => "end the stream instead, or take an `SseSession` \
                                            and call `session.close()`",
                            Kind::Reject => "return `Result<impl Stream<..>, E>` and answer \
                                             with `Err(..)` before the stream is built",
                        }
                    ),
                ))
            }
            (_, Scope::Body) => {}
            (_, scope) => {
                let (where_, why) = match scope {
                    Scope::Closure => ("a closure", "a closure may run later or elsewhere"),
                    Scope::Async => (
                        "an `async` block",
                        "an async block is a separate future that may outlive the stream",
                    ),
                    _ => (
                        "a nested item",
                        "a nested function has no access to the stream",
                    ),
                };
                let fix = match (kind, scope) {
                    (Kind::Send, Scope::Closure) => {
                        "move the `send!` into the function body, for example by collecting \
                         the values first and sending them in a `for` loop"
                    }
                    (Kind::Send, Scope::Async) => {
                        "move the `send!` into the function body and `.await` there; to wait \
                         on several futures, use `tokio::select!`, whose arms may use `send!`; \
                         to send from a spawned task, give it a channel's sender \
                         (`tokio::sync::mpsc`) and `send!` what the receiver gets in a loop \
                         here, or return the receiver as the stream of a stream-style handler"
                    }
                    (Kind::Send, _) => {
                        "move the `send!` into the function body, and have the nested \
                         function return the value to send"
                    }
                    (Kind::Close, _) => {
                        "move `close!()` into the function body, or take an `SseSession` \
                         and call `session.close()`"
                    }
                    (Kind::Reject, _) => "move `reject!(..)` into the function body",
                };
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{name}!` cannot be used inside {where_} in an `#[sse]` function: {why}; {fix}"
                    ),
                ));
            }
        }
        let tx = self.tx;
        let krate = self.krate;
        let call = match kind {
            // Input:  close!()
            // Output: { __tx.close(); return ::actix_sse::__private::Closed::closed() }
            // Like `return`: the rest of the handler does not run, rustc reports code after
            // it as unreachable, and its type is `!`, so `if c { close!() }` and
            // `let n: u32 = close!();` typecheck. `closed()` is the handler's "ok" value,
            // `()` or `Ok(())`, inferred from its return type.
            Kind::Close => {
                if !mac.tokens.is_empty() {
                    return Err(syn::Error::new_spanned(
                        &mac.tokens,
                        "`close!` takes no arguments: write `close!()`",
                    ));
                }
                // The `return` expression spans `close!()`: its first token is at `close`,
                // its last at the closing delimiter, so "any code following this expression
                // is unreachable" underlines the whole call.
                let mut end = Group::new(Delimiter::Parenthesis, TokenStream::new());
                end.set_span(mac.delimiter.span().close());
                quote_spanned! {span=>
                    {
                        #tx.close();
                        return #krate::__private::Closed::closed #end
                    }
                }
            }
            // Input:  reject!(HttpResponse::NoContent())
            // Output: {
            //             { use ..::{RejectsError as _, RejectsOther as _};
            //               let __sse_answer = HttpResponse::NoContent();
            //               (&__sse_answer).__sse_reject_kind()
            //                   .reject(&__tx, __sse_answer, Rejection::__sse_reject); }
            //             return ::actix_sse::__private::Closed::closed()
            //         }
            // Like `close!()`, plus the answer; the kind (an error, or any `Responder`) is
            // chosen at the value's concrete type.
            Kind::Reject => {
                if mac.tokens.is_empty() {
                    return Err(syn::Error::new(
                        span,
                        "`reject!` needs a response or an error: \
                         `reject!(HttpResponse::NoContent())` or \
                         `reject!(ErrorUnauthorized(\"bad token\"))`",
                    ));
                }
                let value: Expr = syn::parse2(mac.tokens.clone())?;
                let vspan = value.span();
                // Named with the value's own span (a hygienic name would be reported at
                // the attribute): a value that cannot answer is reported on it.
                let answer = Ident::new("__sse_answer", vspan);
                let kinds = set_span(
                    quote!(#krate::__private::{RejectsError as _, RejectsOther as _}),
                    vspan,
                );
                let check = set_span(quote!(#krate::__private::Rejection::__sse_reject), vspan);
                let mut end = Group::new(Delimiter::Parenthesis, TokenStream::new());
                end.set_span(mac.delimiter.span().close());
                quote_spanned! {span=>
                    {
                        {
                            #[allow(unused_imports)]
                            use #kinds;
                            let #answer = #value;
                            (&#answer).__sse_reject_kind().reject(&#tx, #answer, #check);
                        }
                        return #krate::__private::Closed::closed #end
                    }
                }
            }
            Kind::Send => self.send_call(mac, span)?,
        };
        Ok(if stmt && kind == Kind::Send {
            // Input:  send!(x);
            // Output: ::actix_sse::__private::unhandled(__tx.send(x).await);
            // A statement drops the result: `unhandled` logs a refused event instead of a
            // `must_use` warning in the user's code.
            // The path is located at `send` so that the statement spans `send!(..);` (for
            // "unreachable statement" after `close!()`, for instance).
            let unhandled = set_span(quote!(#krate::__private::unhandled), span);
            quote_spanned!(span=> #unhandled(#call))
        } else {
            call
        })
    }

    fn send_call(&self, mac: &Macro, span: Span) -> syn::Result<TokenStream> {
        let tx = self.tx;
        let krate = self.krate;
        if mac.tokens.is_empty() {
            return Err(syn::Error::new(
                span,
                "`send!` needs a value: `send!(\"data\")`, `send!(event)`, or \
                 `send!(value, event = \"name\", id = ..)`",
            ));
        }
        let parsed = parse_send.parse2(mac.tokens.clone())?;
        let value = &parsed.value;
        let vspan = value.span();
        let mut fields = TokenStream::new();
        // Whether a field value goes through the `ValueKind`/`DisplayKind` choice, whose
        // traits the expansion then imports.
        let mut kinds = false;
        for (name, expr) in &parsed.fields {
            let method = Ident::new(&name.to_string(), name.span());
            let arg = match (name == "retry", expr) {
                // `retry = "3s"` is checked at compile time, like the attribute's.
                (
                    true,
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }),
                ) => duration_arg(s)?,
                // Input:  retry = 3000
                // A bare number has no unit: say which forms `retry` takes.
                (
                    true,
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Int(n), ..
                    }),
                ) => {
                    let ms = n.base10_digits();
                    let lit = match ms.parse::<u128>() {
                        Ok(v) if v % 1000 == 0 && v > 0 => format!("{}s", v / 1000),
                        _ => format!("{ms}ms"),
                    };
                    return Err(syn::Error::new(
                        n.span(),
                        format!(
                            "`retry` takes a duration, not a number: write `retry = \"{lit}\"`, \
                             or a `Duration` like `Duration::from_millis({ms})`"
                        ),
                    ));
                }
                (true, _) => expr.to_token_stream(),
                // Input:  id = x
                // Output: id(match x { v => (&FieldKind(&v)).__sse_field_kind().field(v) })
                // `x` itself if it is a `FieldValue` (an integer, a string), written
                // without formatting, else `Formatted(x)`; see `__private::ValueKind`.
                // Input:  id = x
                // Output: id(match x {
                //             v => (&FieldKind(&v)).__sse_field_kind()
                //                 .field(v, Display::fmt).__sse_field(),
                //         })
                // `x` itself if it is a `FieldValue` (an integer, a string), written
                // without formatting, else `Formatted(x)`; see `__private::ValueKind`. A
                // value that is not `Display` fails the check, once, on the value.
                (false, _) => {
                    kinds = true;
                    let v = Ident::new("__sse_value", Span::mixed_site());
                    quote_spanned! {expr.span()=>
                        match #expr {
                            #v => (&#krate::__private::FieldKind(&#v))
                                .__sse_field_kind()
                                .field(#v, ::core::fmt::Display::fmt)
                                .__sse_field()
                        }
                    }
                }
            };
            fields.extend(quote_spanned!(expr.span()=> .#method(#arg)));
        }
        // Every generated token is at the value (location and context): a type error (the
        // value is not an event, the serializer cannot take it) is then reported once, on
        // the value, instead of once per generated expression around it.
        let tx = Ident::new(&tx.to_string(), tx.span().located_at(vspan));
        let krate = set_span(krate.clone(), vspan);
        // The value is checked by naming the trait's own method, then sent by a method
        // chosen on the checked value (see `__private::check_event`): a value the stream
        // cannot take is one error, on the value, with the trait's message.
        let send = quote_spanned! {vspan=>
            #[allow(unused_imports)]
            use #krate::__private::{SendEvent as _, SendOther as _, SendSerialized as _};
        };
        Ok(match &self.mode {
            // Input:  send!(value)
            // Output: { use ..; check_event(value, IntoEvent::into_event).__sse_send(&__tx).await }
            Mode::Push { serializer: None } if parsed.fields.is_empty() => {
                quote_spanned! {vspan=>
                    {
                        #send
                        #krate::__private::check_event(#value, #krate::__private::IntoEvent::into_event)
                            .__sse_send(&#tx)
                            .await
                    }
                }
            }
            // Input:  send!(value, event = "e", id = 1)
            // Output: { use ..; check_event(value, IntoEvent::into_event)
            //             .__sse_send_with(&__tx, Fields::new().event(..).id(..)).await }
            Mode::Push { serializer: None } => {
                let call = quote_spanned! {vspan=>
                    {
                        #send
                        #krate::__private::check_event(#value, #krate::__private::IntoEvent::into_event)
                            .__sse_send_with(&#tx, #krate::__private::Fields::new() #fields)
                            .await
                    }
                };
                with_kinds(&krate, kinds, vspan, call)
            }
            // Input:  send!(value, event = "e")   with `serialize = json`
            // Output: { use ..; match (value,) {
            //             (ref v,) => (&SendKind(v)).__sse_send_kind()
            //                 .check(v, &Json, Serializer::serialize)
            //                 .__sse_send_serialized(&__tx, Fields::new().event(..)).await
            //         } }
            // An `Event` (or `ChannelEvent`) goes out as it is, anything else through the
            // serializer; see `__private::SendKind`.
            Mode::Push {
                serializer: Some(ser),
            } => {
                let ser = set_span(ser.clone(), vspan);
                let v = Ident::new("__sse_value", Span::mixed_site().located_at(vspan));
                // The kind is chosen by borrowing on purpose (autoref): generated, not the
                // user's borrow, for lints (clippy's `needless_borrow`).
                let kind = quote_spanned! {Span::mixed_site().located_at(vspan)=>
                    (&#krate::__private::SendKind(#v)).__sse_send_kind()
                };
                let call = quote_spanned! {vspan=>
                    {
                        #send
                        #[allow(unused_imports)]
                        use #krate::__private::{RawKind as _, SerializeKind as _};
                        match (#value,) {
                            (ref #v,) => #kind
                                .check(#v, &#ser, #krate::__private::Serializer::serialize)
                                .__sse_send_serialized(&#tx, #krate::__private::Fields::new() #fields)
                                .await
                        }
                    }
                };
                with_kinds(&krate, kinds, vspan, call)
            }
            Mode::Stream => unreachable!("reported before"),
        })
    }

    /// Rewrites `send!`/`close!` inside another macro call, whose tokens syn does not see
    /// as code.
    ///
    /// Input:  println!("{}", xs.iter().map(|x| send!(x).is_ok()).count())
    /// Output: the same call, its arguments visited as expressions: the closure is a closure
    ///
    /// Arguments that parse as comma-separated expressions (`println!`, `vec![a, b]`,
    /// `assert!`, `tokio::join!`, most user macros) are visited like any expression, so
    /// closures and `async` blocks in them are reported as such. Anything else
    /// (`tokio::select!`, whose arms may use `send!`; `vec![x; n]`) is rewritten token by
    /// token, where `async` blocks and brace groups that parse as blocks are still
    /// recognised.
    ///
    /// `async_stream::stream!` and `try_stream!` bodies are async blocks (of a stream): `send!`
    /// in them is reported like in an `async` block, and their `yield` is theirs.
    fn macro_args(&mut self, mac: &mut Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        let (outer_scope, outer_in_macro) = (self.scope, self.in_macro);
        self.in_macro = true;
        if matches!(name.as_deref(), Some("stream" | "try_stream")) && self.scope != Scope::Item {
            self.scope = Scope::Async;
        }
        let parsed = match name.as_deref() {
            Some("select") => None,
            _ => Punctuated::<Expr, Token![,]>::parse_terminated
                .parse2(mac.tokens.clone())
                .ok(),
        };
        mac.tokens = match parsed {
            Some(mut exprs) => {
                for expr in exprs.iter_mut() {
                    self.visit_expr_mut(expr);
                }
                exprs.into_token_stream()
            }
            None => self.tokens(std::mem::take(&mut mac.tokens)),
        };
        (self.scope, self.in_macro) = (outer_scope, outer_in_macro);
    }

    /// A brace group inside macro tokens: visited as a block when it parses as one
    /// (`tokio::select!`'s `=> { .. }` handlers), token by token otherwise.
    fn brace_group(&mut self, group: &Group) -> Group {
        let stream = match Block::parse_within.parse2(group.stream()) {
            Ok(mut stmts) => {
                for stmt in &mut stmts {
                    self.visit_stmt_mut(stmt);
                }
                quote!(#(#stmts)*)
            }
            Err(_) => self.tokens(group.stream()),
        };
        let mut out = Group::new(Delimiter::Brace, stream);
        out.set_span(group.span());
        out
    }

    /// Rewrites `send!`/`close!` token by token, inside the tokens of a macro call that do
    /// not parse as expressions (`tokio::select!`).
    fn tokens(&mut self, tokens: TokenStream) -> TokenStream {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(tts.len());
        let mut i = 0;
        while i < tts.len() {
            if let (
                TokenTree::Ident(ident),
                Some(TokenTree::Punct(bang)),
                Some(TokenTree::Group(group)),
            ) = (&tts[i], tts.get(i + 1), tts.get(i + 2))
            {
                if let (Some(kind), '!') = (Kind::of(ident), bang.as_char()) {
                    let prefix = path_prefix(&out);
                    let stmt = group.delimiter() == Delimiter::Brace
                        || matches!(tts.get(i + 3), Some(TokenTree::Punct(p)) if p.as_char() == ';');
                    let span = group.delim_span();
                    let mac = Macro {
                        path: ident.clone().into(),
                        bang_token: Token![!](bang.span()),
                        delimiter: match group.delimiter() {
                            Delimiter::Brace => MacroDelimiter::Brace(syn::token::Brace { span }),
                            Delimiter::Bracket => {
                                MacroDelimiter::Bracket(syn::token::Bracket { span })
                            }
                            _ => MacroDelimiter::Paren(syn::token::Paren { span }),
                        },
                        tokens: group.stream(),
                    };
                    let path: TokenStream = out
                        .drain(out.len() - prefix..)
                        .chain([tts[i].clone()])
                        .collect();
                    self.record(path);
                    let expanded = self.expand(&mac, kind, stmt);
                    // One token tree, so it composes with whatever the macro puts around it.
                    let mut g = Group::new(Delimiter::None, expanded);
                    g.set_span(ident.span());
                    out.push(TokenTree::Group(g));
                    i += 3;
                    continue;
                }
            }
            // Input:  async move { send!(x); }
            // Output: the same block, `send!` in it reported (like `Expr::Async`)
            if matches!(&tts[i], TokenTree::Ident(a) if a == "async") {
                let mut j = i + 1;
                if matches!(tts.get(j), Some(TokenTree::Ident(m)) if m == "move") {
                    j += 1;
                }
                if let Some(TokenTree::Group(g)) = tts.get(j) {
                    if g.delimiter() == Delimiter::Brace {
                        out.extend(tts[i..j].iter().cloned());
                        let outer = self.scope;
                        // Inside a nested item, async blocks are reported as the item.
                        if outer != Scope::Item {
                            self.scope = Scope::Async;
                        }
                        out.push(TokenTree::Group(self.brace_group(g)));
                        self.scope = outer;
                        i = j + 1;
                        continue;
                    }
                }
            }
            match &tts[i] {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                    out.push(TokenTree::Group(self.brace_group(g)));
                }
                TokenTree::Group(g) => {
                    let mut ng = Group::new(g.delimiter(), self.tokens(g.stream()));
                    ng.set_span(g.span());
                    out.push(TokenTree::Group(ng));
                }
                other => out.push(other.clone()),
            }
            i += 1;
        }
        out.into_iter().collect()
    }
}

/// `tokens` with every span set to `span`, location and name resolution: for generated
/// absolute paths, where only the location matters.
pub(crate) fn set_span(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut ng = Group::new(g.delimiter(), set_span(g.stream(), span));
                ng.set_span(span);
                tt = TokenTree::Group(ng);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// How many trailing tokens of `out` are a path prefix like `actix_sse::` or `::actix_sse::`.
fn path_prefix(out: &[TokenTree]) -> usize {
    let mut n = 0;
    loop {
        let len = out.len() - n;
        let colons = len >= 2
            && matches!(&out[len - 1], TokenTree::Punct(p) if p.as_char() == ':')
            && matches!(&out[len - 2], TokenTree::Punct(p) if p.as_char() == ':');
        if !colons {
            return n;
        }
        n += 2;
        if len >= 3 && matches!(&out[len - 3], TokenTree::Ident(_)) {
            n += 1;
        } else {
            return n;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Send,
    Close,
    Reject,
}

impl Kind {
    fn of(ident: &Ident) -> Option<Kind> {
        if ident == "send" {
            Some(Kind::Send)
        } else if ident == "close" {
            Some(Kind::Close)
        } else if ident == "reject" {
            Some(Kind::Reject)
        } else {
            None
        }
    }

    fn of_macro(mac: &Macro) -> Option<Kind> {
        mac.path.segments.last().and_then(|s| Kind::of(&s.ident))
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Send => "send",
            Kind::Close => "close",
            Kind::Reject => "reject",
        }
    }
}

struct SendArgs {
    value: Expr,
    fields: Vec<(Ident, Expr)>,
}

/// `value` then `, field = expr` pairs; unknown, duplicate and valueless fields are errors
/// on the field.
fn parse_send(input: ParseStream<'_>) -> syn::Result<SendArgs> {
    let value: Expr = input.parse()?;
    // Input:  send!(event = "token", "hello")
    // A field first parses as an assignment: say that the value comes first.
    if let Expr::Assign(assign) = &value {
        if let Expr::Path(p) = &*assign.left {
            if let Some(name) = p
                .path
                .get_ident()
                .filter(|i| FIELDS.contains(&&*i.to_string()))
            {
                let rest = input.fork();
                let shown = rest
                    .parse::<Token![,]>()
                    .and_then(|_| Punctuated::<Expr, Token![,]>::parse_terminated(&rest))
                    .ok()
                    .and_then(|exprs| {
                        exprs
                            .into_iter()
                            .find(|e| !matches!(e, Expr::Assign(_)))
                            .filter(|e| matches!(e, Expr::Lit(_) | Expr::Path(_)))
                    })
                    .map_or_else(|| "value".to_owned(), |e| e.to_token_stream().to_string());
                let field = match &*assign.right {
                    e @ (Expr::Lit(_) | Expr::Path(_)) => e.to_token_stream().to_string(),
                    _ => "..".to_owned(),
                };
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "the value comes first in `send!`, then the fields: \
                         `send!({shown}, {name} = {field})`"
                    ),
                ));
            }
        }
    }
    let mut fields: Vec<(Ident, Expr)> = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let name = input.call(Ident::parse_any)?;
        let text = name.to_string();
        if !FIELDS.contains(&text.as_str()) {
            let mut msg = format!("unknown `send!` field `{text}`");
            if text == "data" {
                msg.push_str("; the data is the first argument: `send!(data, event = ..)`");
            } else if let Some(close) = args::closest(&text, FIELDS) {
                msg.push_str(&format!("; did you mean `{close}`?"));
            } else {
                msg.push_str("; expected one of `event`, `id`, `retry`, `comment`");
            }
            return Err(syn::Error::new(name.span(), msg));
        }
        if fields.iter().any(|(n, _)| *n == name) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{text}` is set more than once in this `send!`; remove one of them"),
            ));
        }
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{text}` needs a value: `send!(value, {text} = ..)`"),
            ));
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(syn::Error::new(
                eq.span,
                format!("`{text}` needs a value after `=`: `send!(value, {text} = ..)`"),
            ));
        }
        fields.push((name, input.parse()?));
    }
    Ok(SendArgs { value, fields })
}

/// `call` in a block that imports the traits the field values' `__sse_field_kind()` calls
/// need, if there are any.
fn with_kinds(krate: &TokenStream, kinds: bool, span: Span, call: TokenStream) -> TokenStream {
    if !kinds {
        return call;
    }
    quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use #krate::__private::{DisplayKind as _, PassField as _, SendOther as _, ValueKind as _};
            #call
        }
    }
}

fn duration_arg(lit: &LitStr) -> syn::Result<TokenStream> {
    let parsed = args::parse_duration(&lit.value());
    if parsed == Err(args::DurationError::Invalid) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid duration `{}`: expected an integer and a unit (`us`, `ms`, `s`, `m` \
                 or `h`) with no space, like `retry = \"3s\"`, or a `Duration` expression",
                lit.value()
            ),
        ));
    }
    let value = args::check_retry(lit, parsed)?;
    Ok(args::duration_tokens(&args::DurationLit {
        value,
        span: lit.span(),
    }))
}

impl VisitMut for Rewrite<'_> {
    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(m) = stmt {
            if let Some(kind) = Kind::of_macro(&m.mac) {
                self.record(m.mac.path.to_token_stream());
                // `send!(x);` or `send! { x }` is a statement; a tail `send!(x)` is a value.
                let is_stmt =
                    m.semi_token.is_some() || matches!(m.mac.delimiter, MacroDelimiter::Brace(_));
                let tokens = self.expand(&m.mac, kind, is_stmt);
                let semi = match (m.semi_token, is_stmt) {
                    (None, true) => Some(Token![;](Span::call_site())),
                    (semi, _) => semi,
                };
                *stmt = Stmt::Expr(Expr::Verbatim(tokens), semi);
                return;
            }
            self.macro_args(&mut m.mac);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Macro(m) => {
                if let Some(kind) = Kind::of_macro(&m.mac) {
                    self.record(m.mac.path.to_token_stream());
                    *expr = Expr::Verbatim(self.expand(&m.mac, kind, false));
                } else {
                    self.macro_args(&mut m.mac);
                }
            }
            Expr::Closure(c) => self.nested(Scope::Closure, c, visit_mut::visit_expr_closure_mut),
            Expr::Async(a) => self.nested(Scope::Async, a, visit_mut::visit_expr_async_mut),
            Expr::Yield(_) if self.in_macro => visit_mut::visit_expr_mut(self, expr),
            Expr::Yield(y) => {
                self.errors.push(syn::Error::new(
                    y.yield_token.span,
                    "bare `yield` does not work in an `#[sse]` function on stable Rust: \
                     use `send!(value)` to send an event, or return \
                     `impl Stream<Item = Event>` built with \
                     `async_stream::stream! { yield value; }`",
                ));
                *expr = Expr::Verbatim(quote!(()));
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, item: &mut syn::Item) {
        if let syn::Item::Macro(m) = item {
            // `macro_rules!` and other item macros: their tokens may be expanded anywhere.
            let (outer_scope, outer_in_macro) = (self.scope, self.in_macro);
            (self.scope, self.in_macro) = (Scope::Item, true);
            m.mac.tokens = self.tokens(std::mem::take(&mut m.mac.tokens));
            (self.scope, self.in_macro) = (outer_scope, outer_in_macro);
            return;
        }
        self.nested(Scope::Item, item, visit_mut::visit_item_mut);
    }
}
