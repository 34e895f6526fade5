// Opens the demo page in Debian's headless Chromium (driven by playwright-core, no browser
// download), waits until a person would see every stream at work, saves a screenshot and
// prints what the page shows as one JSON line. tests/it/browser.rs runs this and asserts.
//
// usage: node check.mjs <url> <screenshot.png>
import { launch } from "./launch.mjs";

const [url, shot] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  await page.goto(url);
  // Six /events take ~6 s; everything else is done by then. The counter must have stayed
  // finished for 2.5 s (its retry is 1 s): a reconnect would have happened by then.
  await page.waitForFunction(() => {
    const s = window.demoState;
    return s && s.events.length >= 6 && s.json.length >= 2 && s.heartbeats >= 40
      && s.sessions.length >= 2 && s.clock !== null && s.feed.length >= 4
      && s.counterFinishedAt !== null && performance.now() - s.counterFinishedAt > 2500;
  }, null, { timeout: 30000, polling: 100 });
  await page.waitForTimeout(300); // let the 100 ms counters render
  const seen = await page.evaluate(() => ({
    events: [...document.querySelectorAll("#events li")].map((e) => e.textContent),
    json: [...document.querySelectorAll("#json pre")].map((e) => JSON.parse(e.textContent)),
    heartbeatCount: Number(document.getElementById("hb-count").textContent),
    heartbeatRate: Number(document.getElementById("hb-rate").textContent),
    clock: document.getElementById("clock").textContent,
    counterLog: [...document.querySelectorAll("#counter-log div")].map((e) => e.textContent),
    counterIds: window.demoState.counter.map((c) => c.id),
    counterReconnects: window.demoState.reconnects,
    feed: [...document.querySelectorAll("#feed li")].map((e) => e.textContent),
    status: window.demoState.status,
  }));
  const png = await page.screenshot({ path: shot, fullPage: true });
  // Not blank: decode the screenshot in the browser and count distinct colours.
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const set = new Set();
    for (let i = 0; i < d.length; i += 4) set.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return { width: img.width, height: img.height, distinct: set.size };
  }, png.toString("base64"));
  console.log(JSON.stringify({ seen, screenshot: colours, consoleErrors }));
} finally {
  await browser.close();
}
