//! Headless Chromium driven by playwright-core (`tests/browser/*.mjs`), for the browser
//! tests: what they need, and one way to run a script and read its JSON report.

use std::{path::PathBuf, process::Command};

/// Why the browser tests cannot run here, if they cannot: Debian's `chromium`, Node.js and
/// `npm ci` in `tests/browser` are needed (`.ci/run` provides all three).
pub fn missing_prerequisite() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/playwright-core");
    if !PathBuf::from(&chromium).exists() {
        return Some(format!("{chromium} (`apt-get install -y chromium`)"));
    }
    if !driver.exists() {
        return Some("playwright-core (`cd tests/browser && npm ci`)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("`node` (`apt-get install -y nodejs npm`)".into());
    }
    None
}

/// Fails the test, saying what to install, unless Chromium and the Node.js driver are
/// here (tests named `browser_…`).
pub fn require() {
    super::require("browser_", missing_prerequisite());
}

/// Fails the test unless Node.js is here to run a script without packages (`fetch`
/// readers; tests named `node_…`).
pub fn require_node() {
    super::require("node_", super::program("node", "apt-get install -y nodejs"));
}

/// Runs `node tests/browser/<script> <args..>` (bounded by `secs`) and parses the JSON
/// object it prints on its last line. Fails with the script's output if it fails.
pub async fn run(secs: u64, script: &str, args: Vec<String>) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(script);
    let out = super::within(
        secs,
        "the browser script",
        actix_web::rt::task::spawn_blocking(move || {
            Command::new("node").arg(script).args(args).output()
        }),
    )
    .await
    .unwrap()
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser script failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("a JSON report")
}
