//! The scale-out benchmark's quick form runs to the end: every subscriber gets every event
//! in order on both backends (the binary asserts it), with a real redis-server.

use std::process::Command;

#[test]
fn scaleout_quick_run_checks_delivery() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server not found (apt-get install -y redis-server)"
        );
        eprintln!("SKIPPED: redis-server not found");
        return;
    }
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
