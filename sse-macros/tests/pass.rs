//! The shapes `#[sse]` accepts compile, warning-free where a case says
//! `#![deny(warnings)]`: each file of `tests/pass` is a module here, built with this
//! crate's other tests (trybuild then only checks the failing cases, without building
//! their dependencies). The two cases that must be a crate root (an `extern crate` renamed
//! for `crate = ".."`) are test targets of their own, in `Cargo.toml`.

#[path = "pass/close-returns.rs"]
mod close_returns;
#[path = "pass/generated-names.rs"]
mod generated_names;
#[path = "pass/import-explicit.rs"]
mod import_explicit;
#[path = "pass/import-prelude.rs"]
mod import_prelude;
#[path = "pass/import-sse-only.rs"]
mod import_sse_only;
#[path = "pass/lint-attributes.rs"]
mod lint_attributes;
#[path = "pass/macro-rules-generated.rs"]
mod macro_rules_generated;
#[path = "pass/push-statement-no-warnings.rs"]
mod push_statement_no_warnings;
#[path = "pass/reject.rs"]
mod reject;
#[path = "pass/result-return.rs"]
mod result_return;
#[path = "pass/route-options.rs"]
mod route_options;
#[path = "pass/send-in-other-macros.rs"]
mod send_in_other_macros;
#[path = "pass/serialize-push.rs"]
mod serialize_push;
#[path = "pass/stream-style.rs"]
mod stream_style;
#[path = "pass/visibility-and-attributes.rs"]
mod visibility_and_attributes;

/// Every case registers its handlers in an `App`.
#[test]
fn every_case_builds_its_app() {
    close_returns::main();
    generated_names::main();
    import_explicit::main();
    import_prelude::main();
    import_sse_only::main();
    lint_attributes::main();
    macro_rules_generated::main();
    push_statement_no_warnings::main();
    reject::main();
    result_return::main();
    route_options::main();
    send_in_other_macros::main();
    serialize_push::main();
    stream_style::main();
    visibility_and_attributes::main();
}
