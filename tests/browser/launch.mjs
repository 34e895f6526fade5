// Debian's headless Chromium (`CHROMIUM` to use another), driven by playwright-core (no
// browser download), as every script here starts it. This machine's network is closed:
// keep Chromium from phoning home. `extra`: more command-line switches.
import { chromium } from "playwright-core";

export function launch(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...extra],
  });
}
