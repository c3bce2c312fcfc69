"""The conversation lint (issue 24) on real parts: the official Python SDK 1.x server (FastMCP, a
tool with an outputSchema, progress, sampling) and client (with and without the sampling
capability), recorded in-process by mcpsniff's ASGI middleware and judged by `mcpsniff analyze`;
what the SDKs never send comes from a scripted server and a scripted client (tests/peers/lint_server.py,
and raw HTTP here), after the public reports they cite.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import peerlib

pytestmark = pytest.mark.slow

ACCEPT = "application/json, text/event-stream"


@contextmanager
def lint_server(kind: str, out: Path):
    port = peerlib.free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    argv = [peerlib._python(), str(peerlib.PEERS / "lint_server.py"), "--kind", kind, "--port", str(port), "--sniff", str(out)]
    with peerlib._server(argv, port, url):
        yield url


def sdk_client(url: str, *flags: str) -> dict:
    run = subprocess.run([peerlib._python(), str(peerlib.PEERS / "lint_client.py"), "--url", url, *flags],
                         capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def findings(out: Path) -> dict[str, list[dict]]:
    files = sorted(out.parent.glob(out.name[: -len(".jsonl")] + ".pid*.jsonl"))
    run = subprocess.run([peerlib._python(), "-m", "mcpsniff", "analyze", *map(str, files), "-f", "json", "--fail-on", "never"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    by: dict[str, list[dict]] = {}
    for f in json.loads(run.stdout)["findings"]:
        by.setdefault(f["rule"], []).append(f)
    return by


def test_clean_sdk_session_with_output_schema_progress_and_sampling_declared(tmp_path):
    out = tmp_path / "clean.jsonl"
    with lint_server("sdk", out) as url:
        summary = sdk_client(url, "--sampling")
    assert summary["errors"] == [] and summary["progress"] == 3
    assert findings(out) == {}


def test_sdk_server_asks_a_client_without_sampling(tmp_path):
    # typescript-sdk#738, mcp-use#863: sampling/createMessage sent to a client that never declared sampling
    out = tmp_path / "nosampling.jsonl"
    with lint_server("sdk", out) as url:
        sdk_client(url)
    found = findings(out)
    assert sorted(found) == ["capability-not-declared-server"]
    (f,) = found["capability-not-declared-server"]
    assert (f["severity"], f["count"], f["detail"]) == ("error", 1, "undeclared: sampling/createMessage")


def test_scripted_server_against_the_sdk_client(tmp_path):
    out = tmp_path / "scripted.jsonl"
    with lint_server("scripted", out) as url:
        summary = sdk_client(url, "--scripted")
    assert "count: RuntimeError" in summary["errors"]  # the SDK client rejects the result too
    found = findings(out)
    assert {r: found[r][0]["detail"] for r in ("tool-result-schema-mismatch", "response-id-unknown", "jsonrpc-malformed-error")} == {
        "tool-result-schema-mismatch": "result.structuredContent.count: expected integer, got string",
        "response-id-unknown": 'id "1"',
        "jsonrpc-malformed-error": "error: expected object, got string",
    }
    assert found["list-changed-not-declared"][0]["detail"] == "undeclared: notifications/tools/list_changed"
    assert {f["severity"] for fs in found.values() for f in fs} == {"error"}


def post(client: httpx.Client, url: str, msg: dict, sid: str | None = None, pv: str | None = None) -> httpx.Response:
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    if sid:
        headers["Mcp-Session-Id"] = sid
    if pv:
        headers["MCP-Protocol-Version"] = pv
    return client.post(url, json=msg, headers=headers)


def initialize(client: httpx.Client, url: str, version: str) -> tuple[str, str]:
    r = post(client, url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "scripted", "version": "1"}}})
    assert r.status_code == 200
    data = next(line[5:] for line in r.text.splitlines() if line.startswith("data:"))
    return r.headers["mcp-session-id"], json.loads(data)["result"]["protocolVersion"]


def test_scripted_client_against_the_sdk_server(tmp_path):
    """A client that asks for a version the server does not know (the SDK answers its latest, newer)
    and carries on, reuses a request id, and lists tools before notifications/initialized."""
    out = tmp_path / "client.jsonl"
    with lint_server("sdk", out) as url, httpx.Client(timeout=10) as client:
        sid, version = initialize(client, url, "2024-10-07")
        assert version > "2024-10-07"
        post(client, url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, sid, version)
        assert post(client, url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid, version).status_code == 202
        for _ in range(2):
            post(client, url, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                "name": "count", "arguments": {"text": "abcd"}}}, sid, version)
        client.delete(url, headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": version})
    found = findings(out)
    assert found["version-not-offered"][0]["detail"] == f"asked for 2024-10-07, answered {version}"
    assert found["duplicate-request-id"][0]["detail"] == "reused: id 3"
    assert found["request-before-initialized"][0]["detail"] == "before notifications/initialized: tools/list"
    assert not {"tool-result-schema-mismatch", "response-id-unknown", "request-answered-twice"} & set(found)
