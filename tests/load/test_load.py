"""Loaders: HAR and mitmproxy flow files (written by mitmproxy's own writers), format
detection, and robustness: no input, however damaged, gives a traceback."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.io import FlowWriter
from mitmproxy.test import tflow, tutils
from typer.testing import CliRunner

from mcpsniff.documents.analysis import analyze, document
from mcpsniff.cli import app
from mcpsniff import load
from mcpsniff.load import Reading, detect_format
from synth import seed_scenario

TOOL, CTRL = "openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"
runner = CliRunner()


def _flow(ua, rpc, *, sid=None, status=200, resp_sid=None, resp_body=b"", ctype="application/json", t=0.0, auth=None):
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", ua.encode()), (b"content-type", b"application/json"),
               (b"accept", b"application/json, text/event-stream"), (b"mcp-protocol-version", b"2025-11-25")]
    if sid:
        headers.append((b"mcp-session-id", sid.encode()))
    if auth:
        headers.append((b"authorization", auth.encode()))
    req = tutils.treq(method=b"POST", path=b"/mcp", headers=tuple(headers), content=orjson.dumps(rpc),
                      timestamp_start=1_760_000_000.0 + t, timestamp_end=1_760_000_000.0 + t)
    rh = [(b"content-type", ctype.encode())]
    if resp_sid:
        rh.append((b"mcp-session-id", resp_sid.encode()))
    resp = tutils.tresp(status_code=status, headers=tuple(rh), content=resp_body,
                        timestamp_start=1_760_000_000.1 + t, timestamp_end=1_760_000_000.2 + t)
    f = tflow.tflow(req=req, resp=resp)
    return f


def seed_flows(auth="Bearer sk-live-SECRET123"):
    init = lambda i: {"jsonrpc": "2.0", "id": i, "method": "initialize",  # noqa: E731
                      "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "openai-mcp", "version": "1.0.0"}}}
    result = lambda i: orjson.dumps({"jsonrpc": "2.0", "id": i, "result": {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}, "resources": {}}}})  # noqa: E731
    sse_result = b"event: message\ndata: " + result(3) + b"\n\n"
    return [
        _flow(CTRL, init(1), resp_sid="ctrl-aaa", resp_body=result(1), t=0, auth=auth),
        _flow(CTRL, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, sid="ctrl-aaa", t=1, auth=auth),
        # the TOOL plane's initialize answered as SSE: the version comes from the event
        _flow(TOOL, init(3), resp_sid="tool-bbb", resp_body=sse_result, ctype="text/event-stream", t=2, auth=auth),
        _flow(TOOL, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "x"}}, status=400, t=3, auth=auth),
        _flow(TOOL, {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "x"}}, status=400, t=4, auth=auth),
    ]


def write_flow_file(path, flows=None) -> bytes:
    buf = io.BytesIO()
    w = FlowWriter(buf)
    for f in flows or seed_flows():
        w.add(f)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _verdict(path):
    doc = document(analyze([str(path)]))
    return {p["user_agent"]: p["verdict"] for p in doc["planes"]}, [(f["rule"], f["plane"], f["count"]) for f in doc["findings"]]


def test_har_from_mitmproxy_savehar(tmp_path):
    har = SaveHar().make_har(seed_flows())
    p = tmp_path / "cap.har"
    p.write_text(json.dumps(har))
    assert detect_format(p.read_bytes()[:4096], str(p)) == "har"
    planes, findings = _verdict(p)
    # neither plane sends notifications/initialized in these flows: a warning on each
    assert planes == {CTRL: "warn", TOOL: "fail"}
    assert findings == [("session-id-dropped", TOOL, 2), ("request-before-initialized", TOOL, 2),
                        ("request-before-initialized", CTRL, 1), ("requests-refused", TOOL, 2)]


def test_mitmproxy_flow_file(tmp_path):
    p = tmp_path / "cap.flow"
    write_flow_file(p)
    assert detect_format(p.read_bytes()[:4096], str(p)) == "flows"
    planes, findings = _verdict(p)
    # neither plane sends notifications/initialized in these flows: a warning on each
    assert planes == {CTRL: "warn", TOOL: "fail"}
    assert findings == [("session-id-dropped", TOOL, 2), ("request-before-initialized", TOOL, 2),
                        ("request-before-initialized", CTRL, 1), ("requests-refused", TOOL, 2)]


def test_imported_secrets_are_redacted(tmp_path):
    p = tmp_path / "cap.flow"
    write_flow_file(p)
    recs = [r for _, r in load.read(Reading(str(p), print))]
    blob = orjson.dumps(recs)
    assert b"sk-live-SECRET123" not in blob
    markers = {dict((n.lower(), v) for n, v in r["req"]["headers"])["authorization"] for r in recs}
    assert len(markers) == 1 and markers.pop().startswith("Bearer <redacted:")  # same secret, same marker


def test_undecodable_url_bytes_in_a_flow_file_are_escaped_not_fatal(tmp_path):
    """mitmproxy decodes a request's scheme, host and path with surrogateescape, so bytes that are
    not UTF-8 become lone surrogates: the flow reader escapes them as \\xNN like the capture writer
    does (the fuzzer found a damaged scheme crashing the table insert)."""
    flows = seed_flows()
    flows[1].request.scheme = "\udca9ttp"  # what mitmproxy makes of the bytes b"\xa9ttp"
    p = tmp_path / "cap.flow"
    write_flow_file(p, flows)
    recs = [r for _, r in load.read(Reading(str(p), pytest.fail))]
    assert recs[1]["req"]["url"].startswith("\\xa9ttp://")
    r = runner.invoke(app, ["analyze", str(p), "-f", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["capture"]["exchanges"] == 5 and doc["problems"] == []


def test_damaged_flow_file_keeps_what_was_read(tmp_path):
    p = tmp_path / "cap.flow"
    data = write_flow_file(p)
    p.write_bytes(data[: int(len(data) * 0.8)])  # cut inside the last flow
    r = runner.invoke(app, ["analyze", str(p), "-f", "json", "--fail-on", "never"])
    assert r.exit_code == 0
    assert r.stderr.startswith(f"warning: {p}:")
    assert "unreadable mitmproxy flow" in r.stderr
    assert json.loads(r.stdout)["capture"]["exchanges"] >= 3


def test_broken_har(tmp_path):
    p = tmp_path / "x.har"
    p.write_text('{"log": {"entries": [{"request": {}}]}}')
    r = runner.invoke(app, ["analyze", str(p)])
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0].startswith(f"warning: {p}:1: unusable HAR entry (KeyError")
    p.write_text('{"log": {"version": "1.2"}}')
    r = runner.invoke(app, ["analyze", str(p)])
    assert (r.exit_code, r.stderr) == (2, f"error: {p}: not a HAR file (no log.entries list)\n")  # one problem, one line


# --- property-based: any damage gives warnings/errors, never a traceback --------------

SEED = seed_scenario(tool_calls=3).jsonl()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_jsonl_never_tracebacks(tmp_path, data):
    blob = bytearray(SEED)
    for _ in range(data.draw(st.integers(0, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        i = data.draw(st.integers(0, max(0, len(blob) - 1)))
        if op == "flip" and blob:
            blob[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del blob[i : i + data.draw(st.integers(1, 400))]
        elif op == "insert":
            blob[i:i] = data.draw(st.binary(max_size=40))
        else:
            blob += blob[i : i + 300]
    p = tmp_path / "fuzz.jsonl"
    p.write_bytes(bytes(blob))
    r = runner.invoke(app, ["analyze", str(p), "-f", "json", "--fail-on", "never"])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2)
    for line in r.stderr.splitlines():
        assert line.startswith(("warning: ", "error: ")), line
    if r.exit_code == 0:
        json.loads(r.stdout)


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
                        ["v", "kind", "t", "req", "resp", "headers", "method", "url", "body", "rpc", "status", "sse", "data", "error"]),
                        c, max_size=6), max_leaves=20))
def test_schema_shaped_garbage_never_tracebacks(obj):
    rec = {"v": 1, "kind": "exchange", **obj} if isinstance(obj, dict) else obj
    line = orjson.dumps(rec, option=orjson.OPT_NON_STR_KEYS) + b"\n"
    r = runner.invoke(app, ["analyze", "-", "-f", "json", "--fail-on", "never"], input=line)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2)
