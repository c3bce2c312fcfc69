// MCP server built on the official TypeScript SDK 1.x, for mcpsniff's tests and samples.
//
//   node server.mjs --port N
//
// Stateful Streamable HTTP at http://127.0.0.1:N/mcp: initialize issues an Mcp-Session-Id,
// requests answer with SSE, GET opens the standalone stream, DELETE ends the session.
// Tools echo(text), add(a, b), ticks(n, interval); resource note://hello. Prints nothing on stdout.

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  isInitializeRequest,
} from "@modelcontextprotocol/sdk/types.js";

const NOTE_URI = "note://hello";
const NOTE_TEXT = "hello from mcpsniff";
const num = { type: "number" };
const TOOLS = [
  { name: "echo", description: "Return the text unchanged.", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
  { name: "add", description: "Return a + b.", inputSchema: { type: "object", properties: { a: num, b: num }, required: ["a", "b"] } },
  {
    name: "ticks",
    description: "Send n progress and log notifications, `interval` seconds apart, then return.",
    inputSchema: { type: "object", properties: { n: { type: "integer" }, interval: num }, required: ["n", "interval"] },
  },
];

const text = (t) => ({ content: [{ type: "text", text: String(t) }] });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function mcpServer() {
  const server = new Server(
    { name: "mcpsniff-ts-server", version: "0.1.0" },
    { capabilities: { tools: {}, resources: {}, logging: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case "echo":
        return text(args.text);
      case "add":
        return text(Number(args.a) + Number(args.b));
      case "ticks": {
        const n = Number(args.n);
        const token = request.params._meta?.progressToken;
        for (let i = 1; i <= n; i++) {
          if (token !== undefined) {
            await extra.sendNotification({
              method: "notifications/progress",
              params: { progressToken: token, progress: i, total: n, message: `tick ${i}/${n}` },
            });
          }
          await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: `tick ${i}/${n}` } });
          if (i < n) await sleep(Number(args.interval) * 1000);
        }
        return text(`ticked ${n}`);
      }
      default:
        return { ...text(`unknown tool ${request.params.name}`), isError: true };
    }
  });
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [{ uri: NOTE_URI, name: "hello", mimeType: "text/plain" }],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    if (request.params.uri !== NOTE_URI) throw new Error(`unknown resource ${request.params.uri}`);
    return { contents: [{ uri: NOTE_URI, mimeType: "text/plain", text: NOTE_TEXT }] };
  });
  return server;
}

const sessions = new Map(); // Mcp-Session-Id -> transport

function reply(res, status, message) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function handle(req, res) {
  if (new URL(req.url, "http://x").pathname !== "/mcp") return reply(res, 404, "Not Found");
  const sid = req.headers["mcp-session-id"];
  let body;
  if (req.method === "POST") {
    try {
      body = await readJson(req);
    } catch {
      return reply(res, 400, "Parse error");
    }
  }
  let transport = sid ? sessions.get(sid) : undefined;
  if (sid && !transport) return reply(res, 404, "Session not found");
  if (!transport) {
    if (req.method !== "POST" || !isInitializeRequest(body)) return reply(res, 400, "Bad Request: No valid session ID provided");
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
    await mcpServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

function parsePort(argv) {
  const i = argv.indexOf("--port");
  const port = i >= 0 ? Number(argv[i + 1]) : NaN;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error("usage: node server.mjs --port N (1-65535)");
    process.exit(2);
  }
  return port;
}

const http = createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) reply(res, 500, "Internal error");
    else res.end();
  });
});
http.listen(parsePort(process.argv.slice(2)), "127.0.0.1");

const shutdown = () => {
  for (const t of sessions.values()) t.close().catch(() => {});
  http.close(() => process.exit(0));
  http.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
