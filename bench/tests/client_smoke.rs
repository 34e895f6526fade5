//! Smoke run of the client benchmark (`--bin client`) with a tiny count, so it cannot rot:
//! every client must read every event exactly (the binary fails otherwise), and the table
//! names all three. Part of `cargo test -p actix-sse-bench`.

use std::process::Command;

#[test]
fn the_client_benchmark_reads_every_event_with_each_client() {
    let out = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["2000", "1"])
        .output()
        .expect("run the client benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for client in [
        "actix_sse::client",
        "reqwest-eventsource",
        "eventsource-client",
    ] {
        assert!(stdout.contains(&format!("| {client} | ")), "{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
}
