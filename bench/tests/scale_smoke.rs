//! Smoke run of the scale mode (`actix-sse-bench scale --quick`, 500 streams), so it cannot
//! rot: three rounds of idle streams opened from spread source addresses, each with its
//! heartbeats checked and every connection let go by the server before the next round,
//! then ordered fan-out to every subscriber, on ours' `Channels` hub and its broadcast
//! relay. Raw and ours only (lab's endpoints are in `smoke.rs`), to stay near 30 s in a
//! debug build. Figures are not asserted. Part of `cargo test -p actix-sse-bench`.

use std::process::Command;

#[test]
fn quick_scale_run_holds_releases_and_fans_out() {
    let out = Command::new(env!("CARGO_BIN_EXE_actix-sse-bench"))
        .args(["scale", "--quick", "--only", "ours"])
        .output()
        .expect("run actix-sse-bench scale");
    let table = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scale --quick failed:\n{table}\n{log}"
    );
    assert!(!table.contains("FAILED"), "{table}");
    for round in 1..=3 {
        for c in ["raw", "ours"] {
            let row = format!("| scale: RSS after all close, round {round} | {c} |");
            assert!(table.contains(&row), "no {row:?} in\n{table}");
        }
    }
    assert!(table.contains("Channels hub (/hub)"), "{table}");
    assert!(table.contains("broadcast relay (/fanout)"), "{table}");
}
