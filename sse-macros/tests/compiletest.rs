//! Compile errors of `#[sse]`: every mistake gives the error in its `.stderr` snapshot.
//! Regenerate with `TRYBUILD=overwrite cargo test -p sse-macros --test compiletest` and read
//! the diff. The cases live in this crate so that trybuild checks them against its few
//! dev-dependencies, not the facade's (TLS, HTTP/2, Redis, …); with no passing case here
//! (those are `tests/pass.rs`), trybuild only checks, without building the dependencies.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
