// Parse mermaid diagrams with the real mermaid parser (mermaid.parse) under jsdom.
// Input: a JSON array of diagram texts on stdin. Output: a JSON array of
// {"ok": true, "type": "..."} or {"ok": false, "error": "..."} on stdout, same order.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const k of ["DOMParser", "Element", "HTMLElement", "Node", "navigator"]) {
  if (!(k in globalThis)) globalThis[k] = dom.window[k];
}

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const texts = JSON.parse(input);
const out = [];
for (const text of texts) {
  try {
    const r = await mermaid.parse(text);
    out.push({ ok: true, type: r && r.diagramType ? r.diagramType : null });
  } catch (e) {
    out.push({ ok: false, error: String((e && e.message) || e).split("\n").slice(0, 3).join(" ") });
  }
}
process.stdout.write(JSON.stringify(out));
