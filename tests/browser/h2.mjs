// One page opens N EventSources to the same host (N above the 6 connections a browser
// allows per host over HTTP/1.1) and records which of them receive an event in time, and
// over which protocol the page itself came. tests/browser_h2.rs runs it twice: over HTTPS
// with HTTP/2 (all N must receive) and over plain HTTP/1.1 (the control: some stall).
//
// usage: node h2.mjs <url> <n>
import { launch } from "./launch.mjs";

const [url, n] = process.argv.slice(2);
// The server's certificate is self-signed, made by the test.
const browser = await launch(["--ignore-certificate-errors"]);
try {
  const page = await browser.newPage();
  await page.goto(url);
  const report = await page.evaluate(async (n) => {
    const got = new Array(n).fill(null);
    const sources = [];
    for (let i = 0; i < n; i++) {
      const es = new EventSource("/tab/" + i);
      es.onmessage = (e) => { if (got[i] === null) got[i] = e.data; };
      sources.push(es);
    }
    const start = performance.now();
    while (got.some((g) => g === null) && performance.now() - start < 4000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    sources.forEach((es) => es.close());
    const nav = performance.getEntriesByType("navigation")[0];
    return { got, protocol: nav ? nav.nextHopProtocol : null };
  }, Number(n));
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
