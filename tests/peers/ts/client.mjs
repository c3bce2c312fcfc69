// MCP client built on the official TypeScript SDK 1.x, for mcpsniff's tests and samples.
//
//   node client.mjs URL [--calls N] [--node-fetch]
//
// Streamable HTTP: initialize, tools/list, N x tools/call echo, tools/call ticks(3, 0.2),
// resources/read note://hello, then DELETE the session (terminateSession) and close.
// Prints one JSON summary line on stdout; exit 0 on success, 1 on failure ("ok": false, "error").
// Node's fetch ignores HTTP_PROXY; this client honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY
// through undici's EnvHttpProxyAgent so it can run behind mitmproxy. --node-fetch uses Node's
// built-in fetch as it is, as most Node clients do (what `mcpsniff capture -- COMMAND` must handle).

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { EnvHttpProxyAgent, fetch as undiciFetch } from "undici";

const NOTE_URI = "note://hello";
const TIMEOUT_MS = 20_000;

function parseArgs(argv) {
  const usage = "usage: node client.mjs URL [--calls N] [--node-fetch]";
  let url = null;
  let calls = 2;
  let nodeFetch = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--node-fetch") {
      nodeFetch = true;
    } else if (argv[i] === "--calls") {
      calls = Number(argv[++i]);
      if (!Number.isInteger(calls) || calls < 0) throw new Error(`--calls needs an integer >= 0; ${usage}`);
    } else if (url === null && !argv[i].startsWith("--")) {
      url = argv[i];
    } else {
      throw new Error(`unexpected argument ${argv[i]}; ${usage}`);
    }
  }
  if (url === null) throw new Error(usage);
  return { url: new URL(url), calls, nodeFetch };
}

function proxiedFetch() {
  const env = process.env;
  if (!(env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy)) return undefined;
  const dispatcher = new EnvHttpProxyAgent();
  return (url, init) => undiciFetch(url, { ...init, dispatcher });
}

const textOf = (result) =>
  result.content.filter((c) => c.type === "text").map((c) => c.text).join("");

async function run({ url, calls, nodeFetch }) {
  const summary = { ok: false, transport: "streamable", url: url.href };
  const logs = [];
  const client = new Client({ name: "mcpsniff-ts-client", version: "0.1.0" });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(String(n.params.data));
  });
  const transport = new StreamableHTTPClientTransport(url, { fetch: nodeFetch ? undefined : proxiedFetch() });
  const opts = { timeout: TIMEOUT_MS };
  try {
    await client.connect(transport, opts);
    summary.protocol_version = transport.protocolVersion ?? null;
    summary.server = client.getServerVersion()?.name ?? null;
    summary.session_id = transport.sessionId ?? null;

    summary.tools = (await client.listTools(undefined, opts)).tools.map((t) => t.name).sort();

    summary.echo = [];
    for (let i = 0; i < calls; i++) {
      const r = await client.callTool({ name: "echo", arguments: { text: `hello ${i}` } }, undefined, opts);
      if (r.isError) throw new Error(`echo call ${i} failed: ${textOf(r)}`);
      summary.echo.push(textOf(r));
    }

    const progress = [];
    const r = await client.callTool({ name: "ticks", arguments: { n: 3, interval: 0.2 } }, undefined, {
      ...opts,
      onprogress: (p) => progress.push(p.progress),
    });
    if (r.isError) throw new Error(`ticks call failed: ${textOf(r)}`);
    summary.ticks = { result: textOf(r), progress, logs: [...logs] };

    const read = await client.readResource({ uri: NOTE_URI }, opts);
    summary.resource = read.contents.map((c) => c.text ?? "").join("");
    summary.calls = calls + 1;

    if (transport.sessionId) await transport.terminateSession();
    summary.ok = true;
  } finally {
    await client.close().catch(() => {});
  }
  return summary;
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, transport: "streamable", url: args.url.href, error: "timed out after 60s" }));
  process.exit(1);
}, 60_000);
try {
  const summary = await run(args);
  console.log(JSON.stringify(summary));
  clearTimeout(watchdog);
  process.exitCode = 0;
} catch (err) {
  console.log(JSON.stringify({ ok: false, transport: "streamable", url: args.url.href, error: `${err.name}: ${err.message}` }));
  clearTimeout(watchdog);
  process.exitCode = 1;
}
