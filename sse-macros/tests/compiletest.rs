//! Compile-time behaviour of `#[sse]`: every accepted shape compiles (warning-free where the
//! case says `#![deny(warnings)]`), every mistake gives the error in its `.stderr` snapshot.
//! Regenerate with `TRYBUILD=overwrite cargo test -p sse-macros --test compiletest` and read
//! the diff. The cases live in this crate so that trybuild builds them against its few
//! dev-dependencies, not the facade's (TLS, HTTP/2, Redis, …).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
