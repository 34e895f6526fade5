// Chromium's EventSource on given bytes: opens `<url>/bytes` from the page `<url>/page`,
// listens to `message` and to each named type given, until the connection is closed for
// good (the server answers 204 on the reconnection). Prints the events as one JSON line;
// tests/it/client_browser.rs compares them with what actix_sse::client reads.
//
// usage: node client_parse.mjs <url> <types as a JSON array>
import { launch } from "./launch.mjs";

const [url, types] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(url + "/page");
  const events = await page.evaluate((types) => new Promise((resolve, reject) => {
    const out = [];
    const es = new EventSource("/bytes");
    const on = (e) => out.push({ type: e.type, data: e.data, id: e.lastEventId });
    es.onmessage = on;
    for (const t of types) es.addEventListener(t, on);
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve(out); };
    setTimeout(() => reject(new Error("not closed in 10 s: " + JSON.stringify(out))), 10000);
  }), JSON.parse(types));
  console.log(JSON.stringify({ events }));
} finally {
  await browser.close();
}
