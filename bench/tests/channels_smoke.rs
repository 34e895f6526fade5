//! Smoke run of the channel benchmarks (issue 10), so they cannot rot: `channels all
//! --quick` must pass every correctness check (each subscriber gets every event once and
//! in order, each storm client exactly its missed events, the history keeps what it was
//! given). Timing targets are not asserted. Part of `cargo test -p actix-sse-bench` (CI runs it).

use std::process::Command;

#[test]
fn quick_form_is_exact() {
    let out = Command::new(env!("CARGO_BIN_EXE_channels"))
        .args(["all", "--quick"])
        .output()
        .expect("run channels");
    let table = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "channels all --quick failed:\n{table}\n{log}"
    );
    assert!(!table.contains("FAILED"), "{table}");
    // Fan-out: three contestants, one form; storm: raw and hub.
    assert_eq!(table.matches("all exact").count(), 3 + 2, "{table}");
    assert!(table.contains("history RSS"), "{table}");
}
