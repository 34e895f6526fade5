// Reads an OpenAI-style chat completions stream the way fetch-based LLM clients do: a POST
// with a JSON body, the response body read chunk by chunk through a TextDecoder, events
// split on blank lines, `data:` lines parsed as JSON until `[DONE]`. Needs Node 18+ only
// (no package). tests/llm_http.rs runs it and asserts on the JSON line it prints.
//
// usage: node llm_fetch.mjs <url> <authorization header or ""> <json body>
const [url, authorization, body] = process.argv.slice(2);
const headers = { "content-type": "application/json" };
if (authorization) headers.authorization = authorization;
const res = await fetch(url, { method: "POST", headers, body });
const report = {
  status: res.status,
  contentType: res.headers.get("content-type"),
  chunks: [],
  content: "",
  done: false,
  afterDone: 0,
  error: null,
};
if (!res.ok) {
  report.error = await res.json();
} else {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let end;
    while ((end = pending.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
      const block = pending.slice(0, end);
      pending = pending.slice(end).replace(/^(\r\n\r\n|\n\n|\r\r)/, "");
      const data = block
        .split(/\r\n|\n|\r/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      if (report.done) { report.afterDone += 1; continue; }
      if (data === "[DONE]") { report.done = true; continue; }
      const chunk = JSON.parse(data);
      report.chunks.push(chunk);
      report.content += chunk.choices[0].delta.content ?? "";
    }
  }
}
console.log(JSON.stringify(report));
