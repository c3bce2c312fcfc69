// A conformance-suite client built on the official TypeScript SDK 1.x, for mcpsniff's external-oracle
// test (tests/e2e/test_conformance.py).
//
//   MCP_CONFORMANCE_SCENARIO=NAME [MCP_CONFORMANCE_CONTEXT=JSON] node conformance_client.mjs URL
//   node conformance_client.mjs --broken URL
//
// The npm package @modelcontextprotocol/conformance ships no client, so this one behaves, scenario by
// scenario, as the suite's example client does (repository modelcontextprotocol/conformance, tag
// v0.1.16, examples/clients/typescript/everything-client.ts and its helpers withOAuthRetry.ts and
// ConformanceOAuthProvider.ts; sse-retry-test.ts for sse-retry; test-broken.ts for --broken). It is
// written here from their behaviour, not copied.
//
// The conformance runner appends the scenario server's URL to the command and sets
// MCP_CONFORMANCE_SCENARIO (and MCP_CONFORMANCE_CONTEXT for scenarios with credentials).
// Proxying: every request goes through Node's global fetch, so NODE_USE_ENV_PROXY=1 with HTTP_PROXY
// (honoured by Node >= 22.21) routes all of it, OAuth discovery included, through a proxy.
// Exit 0 when the scenario's flow completed, 1 (with the error on stderr) otherwise.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { auth, extractWWWAuthenticateParams, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

// the client_id URL everything-client.ts offers for CIMD (used when the server advertises
// client_id_metadata_document_supported instead of dynamic registration)
const CIMD_CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
const REDIRECT_URL = "http://localhost:3000/callback";

// The OAuth client state the SDK's auth() asks for; as ConformanceOAuthProvider.ts: the authorization
// "redirect" is a GET of the authorize URL whose Location carries the code (no browser).
class OAuthProvider {
  constructor(clientName, clientMetadataUrl) {
    this._metadata = { client_name: clientName, redirect_uris: [REDIRECT_URL] };
    this._metadataUrl = clientMetadataUrl;
  }
  get redirectUrl() { return REDIRECT_URL; }
  get clientMetadata() { return this._metadata; }
  get clientMetadataUrl() { return this._metadataUrl; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() {
    if (!this._verifier) throw new Error("no code verifier saved");
    return this._verifier;
  }
  async redirectToAuthorization(url) {
    const response = await fetch(url.toString(), { redirect: "manual" });
    const location = response.headers.get("location");
    if (!location) throw new Error(`no redirect Location from ${url}`);
    const code = new URL(location).searchParams.get("code");
    if (!code) throw new Error("no authorization code in the redirect URL");
    this._code = code;
  }
  authCode() {
    if (!this._code) throw new Error("no authorization code");
    return this._code;
  }
}

// As withOAuthRetry.ts handle401: run the SDK's auth() with what WWW-Authenticate announced; when it
// needs the authorization step, run it again with the code the provider got.
async function handle401(response, provider, next, serverUrl) {
  const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(response);
  let result = await auth(provider, { serverUrl, resourceMetadataUrl, scope, fetchFn: next });
  if (result === "REDIRECT") {
    result = await auth(provider, {
      serverUrl, resourceMetadataUrl, scope, authorizationCode: provider.authCode(), fetchFn: next,
    });
    if (result !== "AUTHORIZED") throw new UnauthorizedError(`authentication failed: ${result}`);
  }
}

// As withOAuthRetryWithProvider: a fetch that adds the bearer token, and on a 401 or 403 authorises
// and retries once; a second refusal is an error.
function oauthFetch(provider, baseUrl) {
  const next = (input, init) => fetch(input, init);
  return async (input, init) => {
    const attempt = async () => {
      const headers = new Headers(init?.headers);
      const tokens = await provider.tokens();
      if (tokens) headers.set("Authorization", `Bearer ${tokens.access_token}`);
      return next(input, { ...init, headers });
    };
    let response = await attempt();
    if (response.status === 401 || response.status === 403) {
      await handle401(response, provider, next, baseUrl ?? new URL(String(input)).origin);
      response = await attempt();
    }
    if (response.status === 401 || response.status === 403) {
      throw new UnauthorizedError(`authentication failed for ${input}`);
    }
    return response;
  };
}

function context(expected) {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  if (!raw) throw new Error("MCP_CONFORMANCE_CONTEXT is not set");
  const ctx = JSON.parse(raw);
  if (ctx.name !== expected) throw new Error(`expected the ${expected} context, got ${ctx.name}`);
  return ctx;
}

async function session(url, info, transportOptions, work, capabilities = {}) {
  const client = new Client(info, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), transportOptions);
  await client.connect(transport);
  await work(client, transport);
  await transport.close();
}

// everything-client.ts runBasicClient: initialize, tools/list, close
async function basic(url) {
  await session(url, { name: "test-client", version: "1.0.0" }, {}, (c) => c.listTools());
}

// tools_call's server checks that add_numbers is called (the example client's test1.ts does that)
async function toolsCall(url) {
  await session(url, { name: "test-client", version: "1.0.0" }, {}, async (c) => {
    await c.listTools();
    await c.callTool({ name: "add_numbers", arguments: { a: 5, b: 3 } });
  });
}

// everything-client.ts runElicitationDefaultsClient: accept with empty content, the SDK applies defaults
// (SDK 1.32 reads the switch from elicitation.form.applyDefaults; the v0.1.16 example's
// elicitation.applyDefaults is the older place, which this SDK ignores)
async function elicitationDefaults(url) {
  const client = new Client({ name: "elicitation-defaults-test-client", version: "1.0.0" },
    { capabilities: { elicitation: { form: { applyDefaults: true } } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: {} }));
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  const tools = await client.listTools();
  if (!tools.tools.some((t) => t.name === "test_client_elicitation_defaults")) {
    throw new Error("tool test_client_elicitation_defaults not offered");
  }
  await client.callTool({ name: "test_client_elicitation_defaults", arguments: {} });
  await transport.close();
}

// sse-retry-test.ts: the server closes the tool call's stream; the transport reconnects (GET with
// Last-Event-ID, honouring the SSE retry field) and receives the result there
async function sseRetry(url) {
  const opts = {
    reconnectionOptions: {
      initialReconnectionDelay: 1000, maxReconnectionDelay: 10000, reconnectionDelayGrowFactor: 1.5, maxRetries: 3,
    },
  };
  await session(url, { name: "sse-retry-test-client", version: "1.0.0" }, opts, (c) =>
    c.request({ method: "tools/call", params: { name: "test_reconnection", arguments: {} } }, CallToolResultSchema));
}

// everything-client.ts runAuthClient: OAuth through the 401/403 retry fetch, then list and call
async function authClient(url) {
  const provider = new OAuthProvider("test-auth-client", CIMD_CLIENT_METADATA_URL);
  await session(url, { name: "test-auth-client", version: "1.0.0" }, { fetch: oauthFetch(provider, new URL(url)) },
    async (c) => {
      await c.listTools();
      await c.callTool({ name: "test-tool", arguments: {} });
    });
}

// everything-client.ts runPreRegistration: credentials from the context, no registration
async function preRegistration(url) {
  const ctx = context("auth/pre-registration");
  const provider = new OAuthProvider("conformance-pre-registration");
  provider.saveClientInformation({ client_id: ctx.client_id, client_secret: ctx.client_secret, redirect_uris: [REDIRECT_URL] });
  await session(url, { name: "conformance-pre-registration", version: "1.0.0" },
    { fetch: oauthFetch(provider, new URL(url)) }, (c) => c.listTools());
}

// everything-client.ts runClientCredentialsJwt / runClientCredentialsBasic: the SDK's providers
async function clientCredentialsJwt(url) {
  const ctx = context("auth/client-credentials-jwt");
  const authProvider = new PrivateKeyJwtProvider({
    clientId: ctx.client_id, privateKey: ctx.private_key_pem, algorithm: ctx.signing_algorithm || "ES256",
  });
  await session(url, { name: "conformance-client-credentials-jwt", version: "1.0.0" }, { authProvider }, (c) => c.listTools());
}

async function clientCredentialsBasic(url) {
  const ctx = context("auth/client-credentials-basic");
  const authProvider = new ClientCredentialsProvider({ clientId: ctx.client_id, clientSecret: ctx.client_secret });
  await session(url, { name: "conformance-client-credentials-basic", version: "1.0.0" }, { authProvider }, (c) => c.listTools());
}

// everything-client.ts runCrossAppAccessCompleteFlow (SEP-990): protected-resource and
// authorization-server discovery by hand, token exchange at the IdP, JWT bearer grant, then MCP
async function crossAppAccess(url) {
  const ctx = context("auth/cross-app-access-complete-flow");
  const json = async (response, what) => {
    if (!response.ok) throw new Error(`${what} failed: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const prm = await json(await fetch(new URL("/.well-known/oauth-protected-resource/mcp", url)), "PRM discovery");
  const as = await json(
    await fetch(new URL("/.well-known/oauth-authorization-server", prm.authorization_servers[0])), "AS discovery");
  if (!(as.grant_types_supported || []).includes("urn:ietf:params:oauth:grant-type:jwt-bearer")) {
    throw new Error("the authorization server does not offer the jwt-bearer grant");
  }
  const form = { "Content-Type": "application/x-www-form-urlencoded" };
  const exchanged = await json(await fetch(ctx.idp_token_endpoint, {
    method: "POST", headers: form,
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      requested_token_type: "urn:ietf:params:oauth:token-type:id-jag",
      audience: as.issuer, resource: prm.resource, subject_token: ctx.idp_id_token,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token", client_id: ctx.idp_client_id,
    }),
  }), "token exchange");
  const basicAuth = Buffer.from(`${encodeURIComponent(ctx.client_id)}:${encodeURIComponent(ctx.client_secret)}`).toString("base64");
  const token = await json(await fetch(as.token_endpoint, {
    method: "POST", headers: { ...form, Authorization: `Basic ${basicAuth}` },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: exchanged.access_token }),
  }), "JWT bearer grant");
  await session(url, { name: "conformance-cross-app-access", version: "1.0.0" },
    { requestInit: { headers: { Authorization: `Bearer ${token.access_token}` } } }, async (c) => {
      await c.listTools();
      await c.callTool({ name: "test-tool", arguments: {} });
    });
}

// test-broken.ts: an initialize POSTed with Content-Type only -- no Accept header at all, against the
// Streamable HTTP rule that a POST's Accept lists application/json and text/event-stream
async function broken(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0", id: 1, method: "initialize",
      params: { protocolVersion: "2025-06-18", clientInfo: { version: "1.0.0" }, capabilities: {} },
    }),
  });
  console.log(`status ${response.status}: ${await response.text()}`);
}

const HANDLERS = {
  initialize: basic,
  tools_call: toolsCall,
  "elicitation-sep1034-client-defaults": elicitationDefaults,
  "sse-retry": sseRetry,
  "auth/pre-registration": preRegistration,
  "auth/client-credentials-jwt": clientCredentialsJwt,
  "auth/client-credentials-basic": clientCredentialsBasic,
  "auth/cross-app-access-complete-flow": crossAppAccess,
};

async function main() {
  const args = process.argv.slice(2);
  const isBroken = args[0] === "--broken";
  const url = isBroken ? args[1] : args[0];
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO;
  if (!url || (!isBroken && !scenario)) {
    console.error("usage: MCP_CONFORMANCE_SCENARIO=NAME node conformance_client.mjs [--broken] URL");
    process.exit(2);
  }
  // every other auth/* scenario is run by everything-client.ts's well-behaved OAuth client
  const handler = isBroken ? broken : (HANDLERS[scenario] ?? (scenario.startsWith("auth/") ? authClient : null));
  if (!handler) {
    console.error(`unknown scenario ${scenario}`);
    process.exit(2);
  }
  await handler(url);
}

main().then(() => process.exit(0), (error) => {
  console.error("Error:", error?.stack ?? error);
  process.exit(1);
});
