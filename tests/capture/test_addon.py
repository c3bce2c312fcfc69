"""The McpSniff addon with mitmproxy's test harness: options, hooks, the SSE tap, writing."""

from __future__ import annotations

import json
import logging
import os
import re
import stat

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

import mcpsniff.capture.addon as addon_mod
from mcpsniff import schema
from mcpsniff.capture.addon import CAPTURE_STOPPED, McpSniff, rotated_path

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}


def read_lines(path) -> list[dict]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


def exchanges(path) -> list[dict]:
    recs = read_lines(path)
    for r in recs:
        schema.check_record(r)
    return [r for r in recs if r["kind"] == "exchange"]


def mcp_flow(body=INIT, headers=(), resp_headers=((b"content-type", b"application/json"),), resp_body=None,
             path=b"/mcp", method=b"POST", resp=True) -> http.HTTPFlow:
    req = tutils.treq(method=method, path=path, content=json.dumps(body).encode() if body is not None else b"",
                      headers=http.Headers([(b"content-type", b"application/json"), *headers]))
    rsp = False
    if resp:
        content = resp_body if resp_body is not None else json.dumps(
            {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18"}}).encode()
        rsp = tutils.tresp(content=content, headers=http.Headers(list(resp_headers)))
    return tflow.tflow(req=req, resp=rsp)


def sse_flow(encoding: bytes | None = None, path=b"/mcp", method=b"POST", body=INIT) -> http.HTTPFlow:
    hdrs = [(b"content-type", b"text/event-stream")] + ([(b"content-encoding", encoding)] if encoding else [])
    f = mcp_flow(body=body, path=path, method=method, resp_headers=hdrs, resp_body=b"")
    f.response.raw_content = None  # as after a streamed response
    return f


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "cap.jsonl")


@pytest.fixture
def sniff():
    return McpSniff()


# -- options ------------------------------------------------------------------------------------
def test_defaults_and_meta_line(sniff, out):
    with taddons.context(sniff) as tctx:
        o = tctx.options
        assert (o.mcpsniff_output, o.mcpsniff_redact, o.mcpsniff_redact_extra, o.mcpsniff_body_limit,
                o.mcpsniff_record_all, o.mcpsniff_rotate_mb) == (None, True, "", 1 << 20, False, 0)
        tctx.configure(sniff, mcpsniff_output=out, mcpsniff_redact_extra="X-Tenant")
        sniff.done()
    [meta] = read_lines(out)
    assert schema.check_record(meta) == "meta"
    assert meta["mcpsniff"] and meta["mitmproxy"] and meta["python"] and meta["mode"] == ["regular"]
    assert meta["redaction"]["enabled"] is True and meta["redaction"]["extra"] == ["X-Tenant"]
    raw = open(out, "rb").read()
    assert sniff.recorder.redactor._key.hex().encode() not in raw and sniff.recorder.redactor._key not in raw
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.mark.parametrize(
    "opts, message",
    [
        (dict(mcpsniff_body_limit=-1), "^mcpsniff_body_limit: must be 0 or more bytes, not -1$"),
        (dict(mcpsniff_rotate_mb=-2), "^mcpsniff_rotate_mb: must be 0 or more, not -2$"),
        (dict(mcpsniff_redact_extra="ok, not ok"), "^mcpsniff_redact_extra: invalid name to redact"),
        (dict(mcpsniff_redact_patterns="ok\nbad("), "^mcpsniff_redact_patterns: invalid pattern 'bad\\('"),
    ],
)
def test_invalid_options_raise_options_error(sniff, opts, message):
    with taddons.context(sniff) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(sniff, **opts)


def test_unwritable_output_is_an_options_error(sniff, tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with taddons.context(sniff) as tctx:
        with pytest.raises(exceptions.OptionsError, match="cannot write the capture file .*file/cap.jsonl"):
            tctx.configure(sniff, mcpsniff_output=str(afile / "cap.jsonl"))
        with pytest.raises(exceptions.OptionsError, match="No space left on device"):
            tctx.configure(sniff, mcpsniff_output="/dev/full")


def test_nothing_written_without_output(sniff, caplog):
    with taddons.context(sniff):
        with caplog.at_level(logging.WARNING):
            sniff.running()
        f = mcp_flow()
        sniff.requestheaders(f)
        sniff.response(f)
    assert "mcpsniff_output is not set" in caplog.text


# -- exchanges ----------------------------------------------------------------------------------
def test_one_line_per_mcp_exchange_and_non_mcp_skipped(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = mcp_flow(headers=[(b"Authorization", b"Bearer SECRET-1")])
        sniff.requestheaders(f)
        sniff.response(f)
        sniff.response(f)  # a second call for the same flow is ignored
        sniff.error(f)
        plain = tflow.tflow(resp=True)  # GET / with a plain text answer
        sniff.requestheaders(plain)
        sniff.response(plain)
        sniff.done()
    ex = exchanges(out)
    assert len(ex) == 1 and ex[0]["id"] == f.id
    assert ex[0]["req"]["body"]["rpc"] == [INIT]
    assert b"SECRET-1" not in open(out, "rb").read()
    assert sniff.stats["written"] == 1 and sniff.stats["skipped"] == 1


def test_record_all_records_non_mcp(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out, mcpsniff_record_all=True)
        plain = tflow.tflow(resp=True)
        sniff.response(plain)
    assert [e["id"] for e in exchanges(out)] == [plain.id]


def test_redaction_off_keeps_secrets(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out, mcpsniff_redact=False)
        f = mcp_flow(headers=[(b"Authorization", b"Bearer SECRET-2")])
        sniff.response(f)
    assert b"Bearer SECRET-2" in open(out, "rb").read()
    assert read_lines(out)[0]["redaction"]["enabled"] is False


def test_error_flow_without_response_is_recorded(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = mcp_flow(resp=False)
        sniff.requestheaders(f)
        f.error = tflow.terr("Connection refused")
        sniff.error(f)
    [ex] = exchanges(out)
    assert ex["resp"] is None and ex["error"] == "Connection refused"


def test_body_limit_option_truncates(sniff, out):
    big = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "t", "arguments": {"x": "y" * 5000}}}
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out, mcpsniff_body_limit=100)
        sniff.response(mcp_flow(body=big))
    [ex] = exchanges(out)
    assert ex["req"]["body"]["truncated"] and ex["req"]["body"]["rpc"] == [
        {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "t"}}]


# -- the SSE tap ---------------------------------------------------------------------------------
EVENTS = (
    b"id: 1\ndata:\n\n"  # priming event
    b": keep-alive\n\n"
    b'event: message\nid: 2\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n'
    b'id: 3\ndata: {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","access_token":"AT-SECRET"}}\n\n'
)


def drive(f: http.HTTPFlow, chunks: list[bytes], clock: list[float] | None = None, monkeypatch=None) -> list[bytes]:
    forwarded = []
    for i, c in enumerate(chunks):
        if clock is not None and monkeypatch is not None:
            monkeypatch.setattr(addon_mod.time, "time", lambda v=clock[i]: v)
        forwarded.append(f.response.stream(c))
    return forwarded


@pytest.mark.parametrize("encoding", [None, b"gzip", b"br", b"zstd", b"deflate"])
def test_sse_tap_forwards_bytes_unchanged_and_records_events(sniff, out, encoding):
    from mitmproxy.net import encoding as menc

    raw = menc.encode(EVENTS, encoding.decode()) if encoding else EVENTS
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = sse_flow(encoding)
        sniff.requestheaders(f)
        sniff.responseheaders(f)
        assert callable(f.response.stream)
        chunks = [raw[i : i + 3] for i in range(0, len(raw), 3)] + [b""]
        forwarded = [f.response.stream(c) for c in chunks]
        assert forwarded == chunks  # each chunk unchanged, at once
        sniff.response(f)
    [ex] = exchanges(out)
    sse = ex["resp"]["sse"]
    assert [(e["id"], e["event"]) for e in sse] == [("1", None), ("2", "message"), ("3", None)]
    assert sse[0]["data"] == "" and not any(e["truncated"] for e in sse)
    assert json.loads(sse[2]["data"])["result"]["protocolVersion"] == "2025-06-18"
    assert ex["resp"]["body"]["size"] == len(EVENTS) and ex["resp"]["body"]["encoding"] == (
        encoding.decode() if encoding else None)
    assert b"AT-SECRET" not in open(out, "rb").read()


def test_sse_events_get_their_own_timestamps(sniff, out, monkeypatch):
    parts = [b"id: 1\ndata: a\n\n", b"id: 2\nda", b"ta: b\n\n", b""]
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = sse_flow()
        sniff.responseheaders(f)
        drive(f, parts, clock=[10.0, 11.0, 12.5, 13.0], monkeypatch=monkeypatch)
        monkeypatch.undo()
        sniff.response(f)
    [ex] = exchanges(out)
    assert [(e["id"], e["t"]) for e in ex["resp"]["sse"]] == [("1", 10.0), ("2", 12.5)]


def test_sse_tap_never_raises_and_still_forwards(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = sse_flow(b"gzip")
        sniff.responseheaders(f)
        garbage = [b"this is not gzip", b"\x00\xff" * 10, b""]
        assert [f.response.stream(c) for c in garbage] == garbage
        sniff.response(f)
    [ex] = exchanges(out)
    assert ex["resp"]["body"]["truncated"] and ex["resp"]["sse"] == []


def test_client_disconnect_mid_stream_records_partial_events(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        f = sse_flow(method=b"GET", body=None)
        sniff.requestheaders(f)
        sniff.responseheaders(f)
        f.response.stream(b"id: 1\ndata: first\n\nid: 2\ndata: unfinis")
        f.error = tflow.terr("Client disconnected.")
        sniff.error(f)
    [ex] = exchanges(out)
    assert ex["error"] == "Client disconnected."
    assert [(e["data"], e["truncated"]) for e in ex["resp"]["sse"]] == [("first", False), ("unfinis", True)]


def test_done_flushes_open_exchanges_and_ignores_later_hooks(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        stream = sse_flow(method=b"GET", body=None)
        sniff.requestheaders(stream)
        sniff.responseheaders(stream)
        stream.response.stream(b"id: 1\ndata: x\n\n")
        waiting = mcp_flow(resp=False)  # request sent, no answer yet
        sniff.requestheaders(waiting)
        sniff.done()
        # mitmproxy may still deliver the error hooks after done(): ignored
        stream.error = tflow.terr("Client disconnected.")
        sniff.error(stream)
        sniff.response(mcp_flow())
    ex = {e["id"]: e for e in exchanges(out)}
    assert set(ex) == {stream.id, waiting.id}
    assert all(e["error"] == CAPTURE_STOPPED for e in ex.values())
    assert [e["data"] for e in ex[stream.id]["resp"]["sse"]] == ["x"]


def test_legacy_post_endpoint_learned_from_the_stream(sniff, out):
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        get = sse_flow(method=b"GET", path=b"/sse", body=None)
        sniff.responseheaders(get)
        get.response.stream(b"event: endpoint\ndata: /messages/?session_id=abc\n\n")
        # a POST to the announced URL whose body is not JSON-RPC (e.g. cut, or odd) is still MCP
        post = tflow.tflow(req=tutils.treq(method=b"POST", path=b"/messages/?session_id=abc", content=b"oops"),
                           resp=tutils.tresp(status_code=400, content=b"bad"))
        sniff.response(post)
    assert [e["id"] for e in exchanges(out)] == [post.id]


# -- writing ---------------------------------------------------------------------------------------
def test_each_line_is_one_os_write(sniff, out, monkeypatch):
    calls = []
    real = os.write

    def spy(fd, data):
        calls.append(bytes(data))
        return real(fd, data)

    monkeypatch.setattr(os, "write", spy)
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        for _ in range(3):
            sniff.response(mcp_flow())
    assert len(calls) == 4 and all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in calls)
    assert b"".join(calls) == open(out, "rb").read()


def test_appends_to_an_existing_file(sniff, out):
    with open(out, "w") as f:
        f.write('{"v":1,"kind":"meta","old":true}\n')
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        sniff.response(mcp_flow())
    recs = read_lines(out)
    assert recs[0].get("old") and recs[1]["kind"] == "meta" and recs[2]["kind"] == "exchange"


def test_write_failure_is_said_and_counted_but_never_stops_the_proxy(sniff, out, caplog):
    """The one failure policy (capture/writer.py): a failed write loses that record, loudly and
    counted; the traffic goes on, and recording resumes when the disk works again."""
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        shutdowns = []
        tctx.master.shutdown = lambda: shutdowns.append(1)
        sniff.response(mcp_flow())
        fd = sniff.writer.file.fd
        saved = os.dup(fd)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, fd)  # the disk is now full
        os.close(full)
        with caplog.at_level(logging.ERROR):
            sniff.response(mcp_flow())
        assert shutdowns == []  # the traffic is not the recorder's to stop
        assert "mcpsniff: cannot write to" in caplog.text and "No space left on device" in caplog.text
        for _ in range(3):
            sniff.response(mcp_flow())  # counted, not written
        plain = tflow.tflow(req=tutils.treq(path=b"/favicon.ico", content=b""), resp=True)
        sniff.response(plain)  # not MCP: not counted
        assert sniff.stats["failed"] == 4 and shutdowns == []
        assert sniff.recorder.loss_report() == (
            f"cannot write to {out}: No space left on device; 4 exchanges went unrecorded (the traffic was not affected)")
        os.dup2(saved, fd)  # the disk works again
        os.close(saved)
        sniff.response(mcp_flow())
        sniff.done()
    assert len(exchanges(out)) == 2
    assert read_lines(out)[-1]["lost"] == {"queue_full": 0, "write_failed": 4, "not_converted": 0}


def test_short_write_leaves_whole_lines(sniff, out, monkeypatch):
    import mcpsniff.capture.writer as writer_mod

    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out)
        sniff.response(mcp_flow())
        real = os.write
        monkeypatch.setattr(writer_mod.os, "write", lambda fd, data: real(fd, data[: len(data) // 2]))
        sniff.response(mcp_flow())
        monkeypatch.setattr(writer_mod.os, "write", real)
    raw = open(out, "rb").read()
    assert raw.endswith(b"\n") and len(exchanges(out)) == 1 and sniff.stats["failed"] == 1


def test_rotation_naming_and_meta_per_part(sniff, out):
    big = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t", "arguments": {"x": "y" * 400_000}}}
    with taddons.context(sniff) as tctx:
        tctx.configure(sniff, mcpsniff_output=out, mcpsniff_rotate_mb=1)
        flows = [mcp_flow(body=big) for _ in range(5)]
        for f in flows:
            sniff.response(f)
        paths = sniff.output_paths
        sniff.done()
    assert paths == [out, rotated_path(out, 1)]
    assert rotated_path(out, 1).endswith("cap.1.jsonl") and rotated_path("x/cap", 2) == "x/cap.2.jsonl"
    ids = []
    for p in paths:
        recs = read_lines(p)
        assert recs[0]["kind"] == "meta" and recs[0]["part"] == paths.index(p)
        assert len({r["capture"] for r in recs if r["kind"] == "meta"}) == 1
        ids += [r["id"] for r in recs if r["kind"] == "exchange"]
    assert ids == [f.id for f in flows]
    assert os.path.getsize(out) >= 1 << 20


# -- capture helpers (no proxy) -----------------------------------------------------------------------
from mcpsniff.capture import CaptureConfig, CaptureError, default_output, normalize_upstream  # noqa: E402
from mcpsniff.capture.recorder import RecorderOptions  # noqa: E402
from mcpsniff.units import parse_size  # noqa: E402


@pytest.mark.parametrize(
    "url, expected",
    [("http://127.0.0.1:3000", "http://127.0.0.1:3000"), ("https://example.com/", "https://example.com"),
     ("http://[::1]:8000", "http://[::1]:8000")],
)
def test_normalize_upstream(url, expected):
    assert normalize_upstream(url) == expected
    assert CaptureConfig(RecorderOptions(output="x"), upstream=url).mode() == f"reverse:{expected}"


@pytest.mark.parametrize(
    "url, message",
    [("ftp://h", "use http://host"), ("http://h:99999", "Port out of range"), ("http://h/mcp", "give the server"),
     ("127.0.0.1:3000", "use http://host"), ("http://u:p@h", "credentials"), ("http://", "no host")],
)
def test_bad_upstreams(url, message):
    with pytest.raises(CaptureError, match=message):
        normalize_upstream(url)


def test_parse_size_and_default_output():
    assert parse_size("1048576") == 1 << 20 and parse_size("512k") == 512 * 1024 and parse_size("1MiB") == 1 << 20
    assert parse_size("2mb") == 2 << 20 and parse_size("0") == 0 and parse_size("1.5GB") == 3 << 29
    with pytest.raises(ValueError):
        parse_size("lots")
    assert re.fullmatch(r"captures/mcpsniff-\d{8}-\d{6}\.jsonl", default_output())
