"""A conformance-suite client built on the official Python SDK 1.x, for mcpsniff's external-oracle test.

    MCP_CONFORMANCE_SCENARIO=NAME [MCP_CONFORMANCE_CONTEXT=JSON] python py_conformance_client.py URL

The conformance runner (npm @modelcontextprotocol/conformance) appends its scenario server's URL and
sets the scenario name (and, for scenarios with credentials, a JSON context). This client behaves as
the Python SDK's own conformance client does (repository modelcontextprotocol/python-sdk,
.github/actions/conformance/client.py: the same flow per scenario, re-written here for SDK 1.x's API,
not copied): initialize + tools/list, tools_call (add_numbers 5 + 3), sse-retry (test_reconnection),
SEP-1034 elicitation defaults filled from the schema, client credentials (basic, private_key_jwt) and,
for every other auth/* scenario, the authorization-code flow of OAuthClientProvider with the code
taken from the authorize endpoint's redirect (no browser). SCENARIOS lists what it runs; SDK 1.x has
no cross-app-access (SEP-990) provider.

httpx honours HTTP_PROXY, so every request (OAuth discovery included) goes through a proxy set there.
Exit 0 when the flow completed, 1 with the error on stderr otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
from mcp import ClientSession, types
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

REDIRECT = "http://localhost:3000/callback"
CIMD_URL = "https://conformance-test.local/client-metadata.json"


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Redirects:
    """The authorization step without a browser: GET the authorize URL, keep the code its redirect carries."""

    def __init__(self) -> None:
        self.code: str | None = None
        self.state: str | None = None

    async def redirect(self, url: str) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(url, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise RuntimeError(f"the authorize endpoint answered {response.status_code} without a redirect")
        query = parse_qs(urlsplit(location).query)
        if "code" not in query:
            raise RuntimeError(f"no code in the redirect {location}")
        self.code, self.state = query["code"][0], (query.get("state") or [None])[0]

    async def callback(self) -> tuple[str, str | None]:
        if self.code is None:
            raise RuntimeError("no authorization code")
        return self.code, self.state


async def fill_defaults(context, params: types.ElicitRequestParams) -> types.ElicitResult:
    """SEP-1034: accept, with each field's schema default."""
    schema = getattr(params, "requestedSchema", None) or {}
    content = {k: v["default"] for k, v in schema.get("properties", {}).items() if "default" in v}
    return types.ElicitResult(action="accept", content=content)


async def session(url: str, work, auth: httpx.Auth | None = None) -> None:
    async with streamablehttp_client(url, auth=auth) as (read, write, _):
        async with ClientSession(read, write, elicitation_callback=fill_defaults) as s:
            await s.initialize()
            await work(s)


async def initialize(url: str) -> None:
    await session(url, lambda s: s.list_tools())


async def tools_call(url: str) -> None:
    async def work(s: ClientSession) -> None:
        await s.list_tools()
        await s.call_tool("add_numbers", {"a": 5, "b": 3})
    await session(url, work)


async def sse_retry(url: str) -> None:
    async def work(s: ClientSession) -> None:
        await s.list_tools()
        await s.call_tool("test_reconnection", {})
    await session(url, work)


async def elicitation_defaults(url: str) -> None:
    async def work(s: ClientSession) -> None:
        await s.list_tools()
        await s.call_tool("test_client_elicitation_defaults", {})
    await session(url, work)


async def list_and_call_first(s: ClientSession) -> None:
    """As the SDK's client: list tools and call the first one (scenarios name their tools differently)."""
    tools = await s.list_tools()
    if tools.tools:
        await s.call_tool(tools.tools[0].name, {})


def context() -> dict:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    if not raw:
        raise RuntimeError("MCP_CONFORMANCE_CONTEXT is not set")
    return json.loads(raw)


async def client_credentials_basic(url: str) -> None:
    ctx = context()
    auth = ClientCredentialsOAuthProvider(url, MemoryStorage(), ctx["client_id"], ctx["client_secret"],
                                          token_endpoint_auth_method="client_secret_basic")
    await session(url, list_and_call_first, auth)


async def client_credentials_jwt(url: str) -> None:
    ctx = context()
    jwt = SignedJWTParameters(issuer=ctx["client_id"], subject=ctx["client_id"],
                              signing_algorithm=ctx.get("signing_algorithm", "ES256"), signing_key=ctx["private_key_pem"])
    auth = PrivateKeyJWTOAuthProvider(url, MemoryStorage(), ctx["client_id"], jwt.create_assertion_provider())
    await session(url, list_and_call_first, auth)


async def authorization_code(url: str) -> None:
    storage = MemoryStorage()
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    ctx = json.loads(raw) if raw else {}
    if ctx.get("client_id"):  # pre-registration: the credentials come with the scenario
        storage.client = OAuthClientInformationFull(
            client_id=ctx["client_id"], client_secret=ctx.get("client_secret"), redirect_uris=[AnyUrl(REDIRECT)],
            token_endpoint_auth_method="client_secret_basic" if ctx.get("client_secret") else "none")
    redirects = Redirects()
    auth = OAuthClientProvider(
        url,
        OAuthClientMetadata(client_name="conformance-client", redirect_uris=[AnyUrl(REDIRECT)],
                            grant_types=["authorization_code", "refresh_token"], response_types=["code"]),
        storage, redirect_handler=redirects.redirect, callback_handler=redirects.callback, client_metadata_url=CIMD_URL)
    await session(url, list_and_call_first, auth)


HANDLERS = {
    "initialize": initialize,
    "tools_call": tools_call,
    "sse-retry": sse_retry,
    "elicitation-sep1034-client-defaults": elicitation_defaults,
    "auth/client-credentials-basic": client_credentials_basic,
    "auth/client-credentials-jwt": client_credentials_jwt,
}
#: scenarios this client does not run (SDK 1.x has no provider for them)
UNSUPPORTED = ("auth/cross-app-access-complete-flow",)


def handler_for(scenario: str):
    if scenario in UNSUPPORTED:
        return None
    return HANDLERS.get(scenario) or (authorization_code if scenario.startswith("auth/") else None)


def main(argv: list[str]) -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO")
    if len(argv) != 1 or not scenario:
        print("usage: MCP_CONFORMANCE_SCENARIO=NAME python py_conformance_client.py URL", file=sys.stderr)
        return 2
    handler = handler_for(scenario)
    if handler is None:
        print(f"scenario {scenario} is not supported by this client", file=sys.stderr)
        return 2
    try:
        anyio.run(handler, argv[0])
    except Exception as exc:  # the runner reads the exit code; the error goes to its log
        print(f"Error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
