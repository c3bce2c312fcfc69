// mcpsniff: make Node's built-in fetch go through HTTP_PROXY / HTTPS_PROXY.
//
// `mcpsniff capture -- COMMAND` preloads this file into every Node process of the command
// (NODE_OPTIONS=--require ...). Node's fetch is undici, which ignores the proxy variables
// unless Node itself honours NODE_USE_ENV_PROXY (22.21+, 24+): there this file does nothing.
// On older Node it replaces undici's global dispatcher with an Agent of Node's own bundled
// undici whose connector opens every connection as an HTTP CONNECT tunnel through the proxy
// (TLS to the target inside the tunnel). It needs no package: the Agent class is the one of
// the dispatcher Node installs itself. NO_PROXY / no_proxy are honoured (host names, domain
// suffixes, host:port, `*`). Anything unexpected leaves fetch as it was, with one line on stderr.
"use strict";

(function installEnvProxy() {
  const env = process.env;
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  const httpProxy = env.HTTP_PROXY || env.http_proxy || httpsProxy;
  if (!httpsProxy || typeof globalThis.fetch !== "function") return;
  if (nativeEnvProxy()) return;

  function warn(why) {
    process.stderr.write(`mcpsniff: Node ${process.version}: fetch does not go through the proxy (${why})\n`);
  }

  const SYMBOL = Symbol.for("undici.globalDispatcher.1");
  try {
    if (!globalThis[SYMBOL]) void globalThis.Headers; // loads Node's undici, which installs its Agent
    if (!globalThis[SYMBOL]) globalThis.fetch("data:,").catch(() => {});
  } catch (e) {
    return warn(String(e));
  }
  const current = globalThis[SYMBOL];
  const Agent = current && current.constructor;
  if (typeof Agent !== "function" || typeof current.dispatch !== "function") {
    return warn("no undici global dispatcher found");
  }
  const net = require("node:net");
  const tls = require("node:tls");

  let proxies;
  try {
    proxies = { "https:": new URL(httpsProxy), "http:": new URL(httpProxy) };
  } catch (e) {
    return warn(`invalid proxy URL: ${e.message}`);
  }
  const noProxy = (env.NO_PROXY || env.no_proxy || "").split(/[\s,]+/).filter(Boolean).map((s) => s.toLowerCase());

  function bypassed(host, port) {
    host = host.toLowerCase().replace(/^\[|\]$/g, "");
    for (const entry of noProxy) {
      if (entry === "*") return true;
      let [name, p] = entry.startsWith("[") ? [entry.slice(1, entry.indexOf("]")), entry.split("]:")[1]] : entry.split(":");
      if (p && Number(p) !== port) continue;
      name = name.replace(/^\*?\./, "");
      if (host === name || host.endsWith("." + name)) return true;
    }
    return false;
  }

  function connect(opts, callback) {
    let done = false;
    const finish = (err, socket) => {
      if (done) return;
      done = true;
      callback(err, socket);
    };
    const secure = opts.protocol === "https:";
    const port = Number(opts.port) || (secure ? 443 : 80);
    const host = opts.hostname;
    const servername = opts.servername || (net.isIP(host.replace(/^\[|\]$/g, "")) ? undefined : host);
    const upgrade = (socket) => {
      if (!secure) return finish(null, socket);
      const t = tls.connect({ socket, servername, ALPNProtocols: ["http/1.1"] });
      t.once("secureConnect", () => finish(null, t));
      t.once("error", (e) => finish(e));
    };
    if (bypassed(host, port)) {
      const direct = net.connect({ host: host.replace(/^\[|\]$/g, ""), port });
      direct.once("connect", () => upgrade(direct));
      direct.once("error", (e) => finish(e));
      return;
    }
    const proxy = proxies[opts.protocol] || proxies["https:"];
    const target = `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
    const sock = net.connect({ host: proxy.hostname.replace(/^\[|\]$/g, ""), port: Number(proxy.port) || 80 });
    let head = Buffer.alloc(0);
    const onError = (e) => finish(e);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.removeListener("data", onData);
      sock.removeListener("error", onError);
      sock.pause();
      const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      if (!/^HTTP\/1\.[01] 2\d\d/.test(status)) {
        sock.destroy();
        return finish(new Error(`proxy ${proxy.host} answered CONNECT ${target} with ${status}`));
      }
      const rest = head.subarray(end + 4);
      if (rest.length) sock.unshift(rest);
      upgrade(sock);
    };
    sock.on("data", onData);
    sock.on("error", onError);
    sock.once("connect", () => {
      let auth = "";
      if (proxy.username) {
        const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
        auth = `Proxy-Authorization: Basic ${Buffer.from(cred).toString("base64")}\r\n`;
      }
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
  }

  try {
    globalThis[SYMBOL] = new Agent({ connect });
  } catch (e) {
    warn(String(e));
  }

  function nativeEnvProxy() {
    // Node reads NODE_USE_ENV_PROXY for fetch from 22.21 and 24.0 on
    if (!/^(1|true)$/i.test(env.NODE_USE_ENV_PROXY || "")) return false;
    const [major, minor] = process.versions.node.split(".").map(Number);
    return major >= 24 || (major === 22 && minor >= 21);
  }
})();
