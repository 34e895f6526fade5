//! Compile-time behaviour of `#[sse]`: every accepted shape compiles (warning-free where the
//! case says `#![deny(warnings)]`), every mistake gives the error in its `.stderr` snapshot.
//! Regenerate with `TRYBUILD=overwrite cargo test --test compiletest` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
