//! The scale-out benchmark's quick form runs to the end: every subscriber gets every event
//! in order on both backends (the binary asserts it), with a real redis-server.

use std::process::Command;

#[test]
fn redis_scaleout_quick_run_checks_delivery() {
    // Never a silent pass: without redis-server, say what to install (or how to skip).
    assert!(
        Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok(),
        "this test needs `redis-server`, which is not here: `apt-get install -y redis-server` \
         (`.ci/run` installs it), or leave it out with `cargo test -- --skip redis_`"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_scaleout"))
        .arg("--quick")
        .output()
        .expect("run scaleout");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Redis CPU per event"), "{stdout}");
}
