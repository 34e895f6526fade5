// The chat example in two pages of headless Chromium: both see what is said; page A leaves
// (closes its EventSource), messages are said while it is away, A rejoins and must show
// every missed message once, in order. Prints both pages' state as one JSON line;
// tests/browser_chat.rs runs this and asserts.
//
// usage: node chat.mjs <url> <screenshot.png>
import { launch } from "./launch.mjs";

const [url, shot] = process.argv.slice(2);
const browser = await launch();
const wait = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 15000, polling: 50 });
try {
  const consoleErrors = [];
  const open = async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    await page.goto(url);
    // The greeting comes after the subscription: from then on nothing can be missed.
    await wait(page, () => window.chat && window.chat.system.length >= 1);
    return page;
  };
  const a = await open();
  const b = await open();
  const count = (page, n) => wait(page, (n) => window.chat.messages.length >= n, n);

  for (const text of ["m1", "m2"]) await a.evaluate((t) => window.chat.say(t), text);
  await count(a, 2);
  await count(b, 2);

  await a.evaluate(() => window.chat.leave());
  for (const text of ["m3", "m4", "m5"]) await b.evaluate((t) => window.chat.say(t), text);
  await count(b, 5);

  // Rejoin (a new EventSource from where A stopped), then one more live message.
  await a.evaluate(() => window.chat.join());
  await count(a, 5);
  await a.evaluate(() => window.chat.say("m6"));
  await count(a, 6);
  await count(b, 6);
  await a.waitForTimeout(200); // anything duplicated would have arrived by now

  const state = (page) => page.evaluate(() => ({
    messages: window.chat.messages,
    system: window.chat.system,
    resets: window.chat.resets,
    shown: [...document.querySelectorAll("#log div")].map((d) => d.textContent),
  }));
  const report = { a: await state(a), b: await state(b) };
  await a.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ ...report, consoleErrors }));
} finally {
  await browser.close();
}
