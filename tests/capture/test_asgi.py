"""MCPSniffMiddleware driven directly through ASGI (scope / receive / send), no server.

What the middleware must do besides recording: pass every message through as it is and at once,
never let a full queue or a failing disk touch a request, and write what the proxy writes for the
same exchange (compared here with the proxy's own conversion of an equivalent mitmproxy flow).
The real-server tests (uvicorn, hypercorn, SDK peers) are in tests/e2e/test_asgi_peers.py.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import pytest

import mcpsniff.capture.writer as writer_mod
from mcpsniff import schema
from mcpsniff.asgi import MCPSniffMiddleware
from mcpsniff.capture.asgi import DRAIN_MAX, http_version, process_path, request_url
from mcpsniff.capture.redact import Redactor
from mcpsniff.capture.writer import RecordWriter
from mcpsniff.errors import CaptureError

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
INIT_RESULT = {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-11-25", "capabilities": {},
                                                     "serverInfo": {"name": "s", "version": "1"}}}
CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}
JSON_HEADERS = [(b"content-type", b"application/json")]


def j(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def make_scope(method: str = "POST", path: str = "/mcp", headers=(), query: bytes = b"", version: str = "1.1") -> dict:
    hdrs = [(b"host", b"127.0.0.1:8000"), *headers]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": version,
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "headers": hdrs, "client": ("127.0.0.1", 50123), "server": ("127.0.0.1", 8000)}


def post_scope(body: bytes, *extra) -> dict:
    return make_scope(headers=[(b"user-agent", b"unit/1"), (b"content-type", b"application/json"),
                               (b"content-length", str(len(body)).encode()), *extra])


class Server:
    """The server's side of one ASGI call: hands out the request, keeps what the app sends (and
    when), answers ``http.disconnect`` once the response is complete -- or at once after
    :meth:`disconnect`, as uvicorn does."""

    def __init__(self, chunks: list[bytes] = (b"",)) -> None:
        self.incoming: deque[dict] = deque(
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks))
        self.sent: list[dict] = []
        self.times: list[float] = []
        self.gone = asyncio.Event()
        self.receives = 0

    async def receive(self) -> dict:
        self.receives += 1
        if self.incoming:
            return self.incoming.popleft()
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        self.times.append(time.time())
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.gone.set()

    def disconnect(self) -> None:
        self.gone.set()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def json_app(status: int = 200, body: Any = INIT_RESULT, headers=((b"content-type", b"application/json"),
                                                                   (b"mcp-session-id", b"sess-1")), read: bool = True):
    async def app(scope, receive, send):
        if read:
            while (await receive()).get("more_body"):
                pass
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": j(body) if body is not None else b""})
    return app


def lines(path: str | Path) -> list[dict]:
    recs = [json.loads(line) for line in Path(path).read_bytes().splitlines()]
    for r in recs:
        schema.check_record(r)
    return recs


def exchanges(path: str | Path) -> list[dict]:
    return [r for r in lines(path) if r["kind"] == "exchange"]


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "cap.jsonl"


@pytest.fixture
def mws():
    made: list[MCPSniffMiddleware] = []
    yield made
    for mw in made:
        mw.close()


def middleware(mws, app, out, **kw) -> MCPSniffMiddleware:
    mw = MCPSniffMiddleware(app, output=out, **kw)
    mws.append(mw)
    return mw


def run(mw, scope: dict, server: Server, timeout: float = 5.0) -> Server:
    asyncio.run(asyncio.wait_for(mw(scope, server.receive, server.send), timeout))
    return server


def written(mw) -> list[dict]:
    assert mw.flush()
    return exchanges(mw.path)


# -- the record -----------------------------------------------------------------------------------
def test_json_exchange_is_the_proxy_record(mws, out):
    """The same exchange through mitmproxy's conversion (exchange_record on an equivalent flow)
    and through the middleware gives the same request, response and bodies."""
    from mitmproxy import http
    from mitmproxy.test import tflow, tutils

    from mcpsniff.capture.convert import exchange_record

    body = j({**INIT, "params": {**INIT["params"], "access_token": "tok-123"}})
    req_hdrs = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"unit/1"), (b"authorization", b"Bearer s3cret"),
                (b"content-type", b"application/json"), (b"x-dup", b"a"), (b"x-dup", b"b"),
                (b"content-length", str(len(body)).encode())]
    resp_hdrs = [(b"content-type", b"application/json"), (b"mcp-session-id", b"sess-1"), (b"set-cookie", b"k=v; Path=/")]
    scope = make_scope(headers=req_hdrs[1:], query=b"api_key=zzz&x=1")
    mw = middleware(mws, json_app(headers=resp_hdrs), out)
    key = os.urandom(32)
    mw.recorder.redactor = Redactor(key=key)
    run(mw, scope, Server([body[:10], body[10:]]))
    [mine] = written(mw)

    flow = tflow.tflow(
        req=tutils.treq(method=b"POST", host="127.0.0.1", port=8000, path=b"/mcp?api_key=zzz&x=1",
                        headers=http.Headers(req_hdrs), content=body),
        resp=tutils.tresp(status_code=200, reason=b"OK", headers=http.Headers(resp_hdrs), content=j(INIT_RESULT)))
    proxy = exchange_record(flow, redactor=Redactor(key=key))

    assert mine["req"] == proxy["req"]
    assert mine["resp"] == proxy["resp"]
    assert mine["error"] is None and proxy["error"] is None
    # what only the middleware knows its own way
    assert mine["client"] == {"addr": "127.0.0.1:50123", "conn": "127.0.0.1:50123"}
    assert mine["server"] == {"addr": "127.0.0.1:8000"}
    assert mine["t"]["req"] <= mine["t"]["resp"] <= mine["t"]["end"]
    # redacted, while the app got the bytes as they were
    assert "s3cret" not in json.dumps(mine) and "tok-123" not in json.dumps(mine) and "zzz" not in json.dumps(mine)


def test_sse_passes_through_as_the_same_messages_each_event_timed_as_sent(mws, out):
    events = [b'data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n',
              b'id: e2\ndata: {"jsonrpc":"2.0","method":"notifications/pro',  # an event split across chunks
              b'gress","params":{"progress":2}}\n\n',
              b'data: {"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n\n']
    msgs = [{"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]}]
    msgs += [{"type": "http.response.body", "body": e, "more_body": True} for e in events]
    msgs += [{"type": "http.response.body", "body": b"", "more_body": False}]

    async def app(scope, receive, send):
        await receive()
        for m in msgs:
            await send(m)
            await asyncio.sleep(0.05)

    mw = middleware(mws, app, out)
    server = run(mw, post_scope(j(CALL)), Server([j(CALL)]))
    assert len(server.sent) == len(msgs) and all(a is b for a, b in zip(server.sent, msgs))  # the same objects
    [ex] = written(mw)
    sse = ex["resp"]["sse"]
    assert [json.loads(e["data"]).get("params", {}).get("progress") for e in sse] == [1, 2, None]
    assert sse[1]["id"] == "e2"
    # each event carries the time its last chunk was sent (the middleware stamps just before the server gets it)
    for ev, i in zip(sse, (1, 3, 4)):
        assert server.times[i] - 0.01 <= ev["t"] <= server.times[i]
    assert ex["resp"]["body"]["size"] == sum(map(len, events)) and ex["resp"]["body"]["rpc"] is None


def test_a_stream_is_not_held_back(mws, out):
    """The app sends the next event only after the server got the previous one: a middleware that
    buffered would deadlock here."""
    got_first = asyncio.Event

    async def scenario():
        first = got_first()

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
            await asyncio.wait_for(first.wait(), 2)
            await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": False})

        server = Server()
        real_send = server.send

        async def send(m):
            await real_send(m)
            if m.get("body") == b"data: 1\n\n":
                first.set()

        mw = middleware(mws, app, out)
        await mw(make_scope("GET", headers=[(b"accept", b"text/event-stream")]), server.receive, send)
        return mw

    mw = asyncio.run(scenario())
    [ex] = written(mw)
    assert [e["data"] for e in ex["resp"]["sse"]] == ["1", "2"]


def test_client_disconnect_mid_stream_is_recorded_with_the_events_so_far(mws, out):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"id: 1\ndata: \n\n", "more_body": True})  # a priming event
        msg = await receive()  # as sse-starlette listens for the client going away
        assert msg["type"] == "http.disconnect"

    mw = middleware(mws, app, out)
    server = Server()
    server.incoming.clear()
    loop_scope = make_scope("GET", headers=[(b"mcp-session-id", b"sess-1")])

    async def scenario():
        task = asyncio.create_task(mw(loop_scope, server.receive, server.send))
        await asyncio.sleep(0.05)
        server.disconnect()
        await task

    asyncio.run(scenario())
    [ex] = written(mw)
    assert ex["error"] == "Client disconnected."
    assert [(e["id"], e["data"]) for e in ex["resp"]["sse"]] == [("1", "")]
    assert ex["t"]["end"] >= ex["t"]["resp"]


def test_an_app_error_is_recorded_and_raised_unchanged(mws, out):
    class Boom(RuntimeError):
        pass

    async def app(scope, receive, send):
        await receive()
        raise Boom("no tools today")

    mw = middleware(mws, app, out)
    with pytest.raises(Boom):
        run(mw, post_scope(j(CALL)), Server([j(CALL)]))
    [ex] = written(mw)
    assert ex["resp"] is None and ex["error"] == "application error: Boom: no tools today"
    assert ex["req"]["body"]["rpc"] == [CALL]


def test_an_app_returning_without_a_response_is_recorded(mws, out):
    async def app(scope, receive, send):
        await receive()

    mw = middleware(mws, app, out)
    run(mw, post_scope(j(CALL)), Server([j(CALL)]))
    [ex] = written(mw)
    assert ex["resp"] is None and ex["error"] == "the application returned without a response"


def test_a_request_body_the_app_never_read_is_recorded(mws, out):
    """The SDK answers an unknown session id with 404 without reading the body; the proxy records
    the body anyway, so the middleware reads the rest before the response goes out."""
    body = j(CALL)
    mw = middleware(mws, json_app(404, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Session not found"}},
                                  read=False), out)
    server = run(mw, post_scope(body, (b"mcp-session-id", b"gone")), Server([body[:7], body[7:]]))
    assert server.sent[0]["status"] == 404
    [ex] = written(mw)
    assert ex["req"]["body"]["rpc"] == [CALL] and ex["req"]["body"]["size"] == len(body)
    assert not ex["req"]["body"]["truncated"]


def test_drained_request_messages_still_reach_the_app(mws, out):
    body = j(CALL)
    seen: list[bytes] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 202, "headers": []})
        while True:  # reads the body only after starting the response
            m = await receive()
            seen.append(m.get("body", b""))
            if not m.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b""})

    mw = middleware(mws, app, out)
    run(mw, post_scope(body), Server([body[:5], body[5:]]))
    assert b"".join(seen) == body
    [ex] = written(mw)
    assert ex["req"]["body"]["rpc"] == [CALL]


def test_no_draining_after_expect_100_continue_or_for_a_large_rest(mws, out):
    body = j(CALL)
    mw = middleware(mws, json_app(417, None, read=False), out)
    server = Server([body])
    run(mw, post_scope(body, (b"expect", b"100-continue")), server)
    assert server.receives == 0  # the client waits for 100 Continue: nothing was read for it
    big = b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"pad":"' + b"x" * (DRAIN_MAX + 10) + b'"}}'
    server = Server([big[:100], big[100:]])
    run(mw, post_scope(big), server)
    assert server.receives == 0
    recs = written(mw)
    assert [r["resp"]["status"] for r in recs] == [417, 417]
    # what was not read is recorded as incomplete, with the size the client declared
    assert all(r["req"]["body"]["truncated"] and r["req"]["body"]["rpc"] is None for r in recs)
    assert [r["req"]["body"]["size"] for r in recs] == [len(body), len(big)]


def test_only_mcp_exchanges_unless_record_all(mws, tmp_path):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = middleware(mws, app, tmp_path / "mcp.jsonl")
    run(mw, make_scope("GET", "/healthz"), Server())
    run(mw, make_scope("DELETE", headers=[(b"mcp-session-id", b"s")]), Server())
    assert [e["req"]["method"] for e in written(mw)] == ["DELETE"]
    assert mw.stats["skipped"] == 1
    every = middleware(mws, app, tmp_path / "all.jsonl", record_all=True)
    run(every, make_scope("GET", "/healthz"), Server())
    assert [e["resp"]["body"]["text"] for e in written(every)] == ["ok"]


def test_legacy_endpoint_event_makes_its_url_mcp(mws, out):
    """A legacy server's `endpoint` event teaches the POST URL, as in the proxy: a later plain
    request there is recorded."""
    async def app(scope, receive, send):
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            await send({"type": "http.response.body", "body": b"event: endpoint\ndata: /messages/?session_id=abc\n\n",
                        "more_body": False})
        else:
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    mw = middleware(mws, app, out)
    run(mw, make_scope("GET", "/sse"), Server())
    run(mw, make_scope("OPTIONS", "/messages/", query=b"session_id=abc"), Server())
    assert [e["req"]["method"] for e in written(mw)] == ["GET", "OPTIONS"]


def test_body_over_the_limit_is_cut_as_the_proxy_cuts_it(mws, out):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for _ in range(10):
            await send({"type": "http.response.body", "body": b"y" * 1000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    mw = middleware(mws, app, out, body_limit=100, record_all=True)
    run(mw, make_scope("GET", "/big"), Server())
    [ex] = written(mw)
    assert ex["resp"]["body"]["size"] == 10_000 and ex["resp"]["body"]["truncated"]
    assert ex["resp"]["body"]["text"] == "y" * 100


# -- never in the way -------------------------------------------------------------------------------
def test_a_failing_disk_never_breaks_a_response_and_is_counted(mws, out, monkeypatch, caplog):
    mw = middleware(mws, json_app(), out)
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    assert mw.flush()
    fd = mw.recorder.writer.file.fd
    real = os.write

    def full_disk(f, data):
        if f == fd:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, data)

    monkeypatch.setattr(writer_mod.os, "write", full_disk)
    with caplog.at_level(logging.ERROR, logger="mcpsniff.asgi"):
        for _ in range(3):
            server = run(mw, post_scope(j(INIT)), Server([j(INIT)]))
            assert server.sent[0]["status"] == 200 and json.loads(server.body) == INIT_RESULT
        assert mw.flush()
    assert mw.stats["failed"] == 3 and mw.stats["written"] == 1
    assert any("No space left on device" in r.getMessage() and "records lost" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))  # the disk has room again: recording goes on
    assert len(written(mw)) == 2 and mw.stats["written"] == 2


def test_a_short_write_is_cut_back_so_the_file_keeps_whole_lines(mws, out, monkeypatch):
    mw = middleware(mws, json_app(), out)
    run(mw, make_scope("GET", headers=[(b"mcp-session-id", b"s")]), Server())
    assert mw.flush()
    fd = mw.recorder.writer.file.fd
    real = os.write

    def half(f, data):  # the disk fills up in the middle of a line
        return real(f, data[: len(data) // 2]) if f == fd else real(f, data)

    monkeypatch.setattr(writer_mod.os, "write", half)
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    assert mw.flush()
    monkeypatch.undo()
    run(mw, make_scope("DELETE", headers=[(b"mcp-session-id", b"s")]), Server())
    recs = written(mw)  # every line parses: the torn half line is gone
    assert [r["req"]["method"] for r in recs] == ["GET", "DELETE"] and mw.stats["failed"] == 1


def test_a_full_queue_drops_records_with_a_count_and_never_blocks(mws, out, caplog):
    mw = middleware(mws, json_app(), out, queue_size=1)
    run(mw, make_scope("GET", headers=[(b"mcp-session-id", b"s")]), Server())
    assert mw.flush()
    busy, release = threading.Event(), threading.Event()

    def stuck_disk():  # the writer thread is stuck on the file
        busy.set()
        release.wait(10)

    mw.recorder.writer.submit(stuck_disk)
    assert busy.wait(5)
    t0 = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="mcpsniff.asgi"):
        for _ in range(5):
            server = run(mw, post_scope(j(INIT)), Server([j(INIT)]), timeout=2)
            assert server.sent[0]["status"] == 200
    assert time.monotonic() - t0 < 1.5  # five requests went through while nothing could be written
    assert mw.stats["dropped"] == 4  # one fits in the queue
    assert any("queue is full" in r.getMessage() for r in caplog.records)
    release.set()
    assert len(written(mw)) == 2
    mw.close()
    [*_, last] = lines(mw.path)
    assert last["kind"] == "meta" and last["lost"] == {"queue_full": 4, "write_failed": 0, "not_converted": 0}


def test_a_recording_bug_never_breaks_the_request_and_records_what_is_safe(mws, out, monkeypatch, caplog):
    """As the proxy does for a flow it cannot convert (main's 'no silent loss'): method, URL without
    query and with its path redacted, status and why -- no headers, no bodies."""
    import mcpsniff.capture.asgi as asgi_mod

    def broken(*a, **k):
        raise ValueError("bug")

    monkeypatch.setattr(asgi_mod, "media_type", broken)  # used when the response starts
    mw = middleware(mws, json_app(), out)
    scope = post_scope(j(INIT), (b"authorization", b"Bearer s3cret"))
    scope.update(path="/k/sk-proj-AbCdEf0123456789xyzXYZ/mcp", raw_path=b"/k/sk-proj-AbCdEf0123456789xyzXYZ/mcp",
                 query_string=b"api_key=zzz")
    with caplog.at_level(logging.ERROR, logger="mcpsniff.asgi"):
        server = run(mw, scope, Server([j(INIT)]))
    assert json.loads(server.body) == INIT_RESULT
    [ex] = written(mw)
    assert mw.stats["internal_errors"] == 1
    assert any("recording error" in r.getMessage() for r in caplog.records)
    assert "could not record this exchange fully: ValueError: bug" in ex["error"]
    assert ex["req"]["method"] == "POST" and ex["resp"]["status"] == 200 and ex["req"]["headers"] == []
    assert ex["req"]["url"].startswith("http://127.0.0.1:8000/k/<redacted:") and ex["req"]["url"].endswith("/mcp")
    flat = json.dumps(ex)
    assert "sk-proj" not in flat and "zzz" not in flat and "s3cret" not in flat


def test_an_exchange_that_cannot_be_converted_is_recorded_with_why(mws, out, monkeypatch):
    import mcpsniff.capture.recorder as recorder_mod

    def broken(*a, **k):
        raise RuntimeError("conversion bug")

    monkeypatch.setattr(recorder_mod, "exchange_from_parts", broken)  # runs on the writer thread
    mw = middleware(mws, json_app(), out)
    server = run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    assert json.loads(server.body) == INIT_RESULT
    [ex] = written(mw)
    assert "could not record this exchange fully: RuntimeError: conversion bug" in ex["error"]
    assert ex["req"]["url"] == "http://127.0.0.1:8000/mcp" and ex["resp"]["status"] == 200
    assert mw.stats["not_converted"] == 0  # recorded, if only in part


def test_an_exchange_that_breaks_detection_is_recorded_anyway(mws, out, monkeypatch):
    import mcpsniff.capture.recorder as recorder_mod

    def broken(*a, **k):
        raise RuntimeError("detection bug")

    monkeypatch.setattr(recorder_mod, "is_mcp_parts", broken)
    mw = middleware(mws, json_app(), out)
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    [ex] = written(mw)
    assert ex["error"] is None and ex["req"]["body"]["rpc"] == [INIT]


# -- files, options, lifespan -----------------------------------------------------------------------
def test_lifespan_starts_the_file_with_its_meta_line_and_shutdown_flushes(mws, out):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                m = await receive()
                await send({"type": m["type"] + ".complete"})
                if m["type"] == "lifespan.shutdown":
                    return
        else:
            await json_app()(scope, receive, send)

    mw = middleware(mws, app, out, redact_extra="X-Tenant", body_limit=4096)

    async def scenario():
        q: asyncio.Queue = asyncio.Queue()
        await q.put({"type": "lifespan.startup"})
        sent: list[dict] = []

        async def send(m):
            sent.append(m)

        task = asyncio.create_task(mw({"type": "lifespan", "asgi": {"version": "3.0"}}, q.get, send))
        await asyncio.sleep(0.05)
        assert Path(mw.path).exists()  # before any request
        s = Server([j(INIT)])
        await mw(post_scope(j(INIT)), s.receive, s.send)
        await q.put({"type": "lifespan.shutdown"})
        await task
        return sent

    sent = asyncio.run(scenario())
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    meta, ex = lines(mw.path)  # written by shutdown, no flush asked
    assert meta["recorder"] == "asgi" and meta["tool"] == "mcpsniff" and meta["pid"] == os.getpid()
    assert meta["mcpsniff"] and meta["python"] and meta["part"] == 0 and meta["body_limit"] == 4096
    assert meta["redaction"]["enabled"] is True and meta["redaction"]["extra"] == ["X-Tenant"]
    assert ex["id"].startswith(meta["capture"])
    assert mw._recorder.writer.closed


def test_each_process_writes_its_own_file_and_a_forked_worker_starts_afresh(mws, out):
    mw = middleware(mws, json_app(), out)
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    assert mw.path == str(out.with_name(f"cap.pid{os.getpid()}.jsonl"))
    assert mw.flush()
    pid = os.fork()  # a pre-forking server (gunicorn --preload) builds the app before forking
    if pid == 0:
        code = 1
        try:
            run(mw, post_scope(j(INIT)), Server([j(INIT)]))
            mw.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child = exchanges(out.with_name(f"cap.pid{pid}.jsonl"))
    parent = written(mw)
    assert len(child) == 1 and len(parent) == 1
    assert child[0]["id"].split("-")[0] != parent[0]["id"].split("-")[0]  # separate capture ids


def test_per_process_off_writes_the_path_as_given(mws, out):
    mw = middleware(mws, json_app(), out, per_process=False)
    run(mw, post_scope(j(INIT)), Server([j(INIT)]))
    assert mw.path == str(out) and len(written(mw)) == 1


def test_rotation(mws, out):
    big = b"z" * (600 << 10)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"mcp-session-id", b"s")]})
        await send({"type": "http.response.body", "body": big})

    mw = middleware(mws, app, out, rotate_mb=1, body_limit=1 << 20)
    for _ in range(3):
        run(mw, make_scope("GET"), Server())
    assert mw.flush()
    base = process_path(str(out), os.getpid())
    assert mw.paths == [base, base.replace(".jsonl", ".1.jsonl")]
    assert [lines(p)[0]["part"] for p in mw.paths] == [0, 1]


@pytest.mark.parametrize("kw, message", [
    ({"body_limit": -1}, "body_limit"), ({"rotate_mb": -2}, "rotate_mb"), ({"queue_size": 0}, "queue_size"),
    ({"redact_extra": "bad name!"}, "redact_extra"), ({"redact_patterns": ["ok", "bad("]}, "redact_patterns"),
])
def test_invalid_options_raise_capture_error(out, kw, message):
    with pytest.raises(CaptureError, match=message):
        MCPSniffMiddleware(json_app(), output=out, **kw)


def test_an_unusable_output_fails_at_startup_not_at_a_request(tmp_path):
    with pytest.raises(CaptureError, match="cannot write the capture file"):
        MCPSniffMiddleware(json_app(), output="/proc/mcpsniff/cap.jsonl")
    with pytest.raises(CaptureError, match="is a directory"):
        MCPSniffMiddleware(json_app(), output=tmp_path)


def test_extra_redact_patterns(mws, out):
    """``redact_patterns`` is ``mcpsniff capture --redact-pattern``: path segments and text."""
    body = j({**CALL, "params": {"name": "echo", "arguments": {"text": "for tenant-123456 only"}}})
    mw = middleware(mws, json_app(body={"jsonrpc": "2.0", "id": 2, "result": {"note": "tenant-654321"}}), out,
                    redact_patterns="tenant-[0-9]{6}\nacct_[a-z]{4}")
    scope = post_scope(body)
    scope.update(path="/t/tenant-000001/mcp", raw_path=b"/t/tenant-000001/mcp", query_string=b"who=acct_abcd")
    run(mw, scope, Server([body]))
    [ex] = written(mw)
    flat = json.dumps(ex)
    for secret in ("tenant-123456", "tenant-654321", "tenant-000001", "acct_abcd"):
        assert secret not in flat, secret
    assert ex["req"]["body"]["rpc"][0]["params"]["arguments"]["text"].startswith("for <redacted:")
    meta = lines(mw.path)[0]
    assert meta["redaction"]["patterns"] == ["tenant-[0-9]{6}", "acct_[a-z]{4}"]
    assert middleware(mws, json_app(), out, redact_patterns=["a+"]).recorder.redactor.patterns == ["a+"]


def test_redaction_off_keeps_secrets(mws, out):
    mw = middleware(mws, json_app(), out, redact=False)
    run(mw, post_scope(j(INIT), (b"authorization", b"Bearer s3cret")), Server([j(INIT)]))
    [ex] = written(mw)
    assert schema.header_value(ex["req"]["headers"], "authorization") == "Bearer s3cret"


def test_websocket_scopes_pass_through_untouched(mws, out):
    calls = []

    async def app(scope, receive, send):
        calls.append((scope, receive, send))

    mw = middleware(mws, app, out)

    async def receive():
        return {}

    async def send(m):
        pass

    scope = {"type": "websocket"}
    asyncio.run(mw(scope, receive, send))
    assert calls == [(scope, receive, send)]


def test_starlette_add_middleware(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def mcp(request):
        return JSONResponse(INIT_RESULT, headers={"mcp-session-id": "sess-9"})

    app = Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])
    app.add_middleware(MCPSniffMiddleware, output=str(tmp_path / "s.jsonl"))
    with TestClient(app) as client:  # runs the lifespan: shutdown closes the file
        r = client.post("/mcp", json=INIT, headers={"user-agent": "unit/2"})
        assert r.json() == INIT_RESULT
    [meta, ex] = lines(tmp_path / f"s.pid{os.getpid()}.jsonl")
    assert meta["recorder"] == "asgi"
    assert ex["req"]["body"]["rpc"] == [INIT] and ex["resp"]["status"] == 200
    assert schema.header_value(ex["resp"]["headers"], "mcp-session-id") == "sess-9"


def test_importing_and_recording_loads_no_mitmproxy_starlette_or_pandas(tmp_path):
    code = f"""
import asyncio, sys
from mcpsniff.asgi import MCPSniffMiddleware
async def app(scope, receive, send):
    await receive()
    await send({{"type": "http.response.start", "status": 202, "headers": []}})
    await send({{"type": "http.response.body", "body": b""}})
mw = MCPSniffMiddleware(app, output={str(tmp_path / 'x.jsonl')!r})
msgs = [{{"type": "http.request", "body": b'{{"jsonrpc":"2.0","method":"notifications/initialized"}}'}}]
async def receive(): return msgs.pop()
async def send(m): pass
asyncio.run(mw({{"type": "http", "method": "POST", "path": "/mcp", "headers": [], "query_string": b""}}, receive, send))
mw.close()
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"mitmproxy", "starlette", "pandas", "numpy", "typer", "rich"}}))
"""
    run_ = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run_.returncode == 0, run_.stderr
    assert run_.stdout.strip() == "[]"
    [ex] = exchanges(next(tmp_path.glob("x.pid*.jsonl")))
    assert ex["resp"]["status"] == 202


def test_a_stream_still_open_at_interpreter_exit_is_recorded_as_capture_stopped(tmp_path):
    code = f"""
import asyncio
from mcpsniff.asgi import MCPSniffMiddleware
async def app(scope, receive, send):
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}})
    await send({{"type": "http.response.body", "body": b"id: 1\\ndata: {{}}\\n\\n", "more_body": True}})
    await asyncio.Event().wait()  # the stream stays open
mw = MCPSniffMiddleware(app, output={str(tmp_path / 'open.jsonl')!r})
async def receive():
    await asyncio.Event().wait()
async def send(m):
    pass
loop = asyncio.new_event_loop()
loop.create_task(mw({{"type": "http", "method": "GET", "path": "/mcp", "headers": [], "query_string": b""}}, receive, send))
loop.run_until_complete(asyncio.sleep(0.1))  # then the process ends without a lifespan shutdown
"""
    run_ = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run_.returncode == 0, run_.stderr
    [ex] = exchanges(next(tmp_path.glob("open.pid*.jsonl")))
    assert ex["error"] == "capture stopped" and [e["id"] for e in ex["resp"]["sse"]] == ["1"]


# -- pure helpers and the writer ---------------------------------------------------------------------
def test_url_version_and_file_names():
    s = make_scope("GET", "/a%20b/mcp", query=b"session_id=1")
    assert request_url(s, [("host", "example.com:80")]) == "http://example.com/a%20b/mcp?session_id=1"
    assert request_url({**s, "scheme": "https"}, [("host", "h:8443")]) == "https://h:8443/a%20b/mcp?session_id=1"
    no_host = {k: v for k, v in s.items() if k != "raw_path"}
    assert request_url(no_host, []) == "http://127.0.0.1:8000/a%20b/mcp?session_id=1"
    assert [http_version({"http_version": v}) for v in ("1.0", "1.1", "2")] == ["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"]
    assert process_path("c/cap.jsonl", 42) == "c/cap.pid42.jsonl" and process_path("c/cap", 42) == "c/cap.pid42.jsonl"


def test_background_writer_counts_what_it_cannot_convert_and_what_comes_after_close(tmp_path):
    w = RecordWriter(str(tmp_path / "w.jsonl"), lambda part: schema.make_meta(part=part))

    def bad():
        raise KeyError("x")

    assert w.submit(bad) and w.submit(lambda: None) and w.submit(schema.make_meta(note="hello"))
    assert w.flush()
    assert (w.errors, w.written, w.failed) == (1, 0, 0)
    w.close()
    assert not w.submit({"v": 1}) and w.dropped == 1
    recs = lines(tmp_path / "w.jsonl")
    assert [r.get("note") for r in recs[:2]] == [None, "hello"] and recs[-1]["lost"]["not_converted"] == 1


def test_background_writer_lingers_for_a_batch_but_not_for_flush_close_or_a_backlog(tmp_path, monkeypatch):
    """The thread waits `linger` after a first record for more (a warm batch, one write), but flush()
    and close() do not wait for it, and a backlog of full batches is written without pauses."""
    import mcpsniff.capture.writer as writer_mod

    def ids(p):
        return [json.loads(line)["id"] for line in p.read_text().splitlines() if '"exchange"' in line]

    path = tmp_path / "w.jsonl"
    w = RecordWriter(str(path), lambda part: schema.make_meta(part=part), linger=30.0)
    assert w.flush()  # the meta line
    t0 = time.monotonic()
    w.submit({"v": 1, "kind": "exchange", "id": "a"})
    time.sleep(0.3)
    assert ids(path) == []  # lingering: not written yet
    assert w.flush(timeout=5) and time.monotonic() - t0 < 5  # flush cuts the linger short
    assert ids(path) == ["a"]
    w.submit({"v": 1, "kind": "exchange", "id": "b"})
    time.sleep(0.1)
    t0 = time.monotonic()
    w.close(timeout=5)
    assert time.monotonic() - t0 < 5 and ids(path) == ["a", "b"]

    monkeypatch.setattr(writer_mod, "MAX_BATCH", 10)
    path2 = tmp_path / "w2.jsonl"
    w2 = RecordWriter(str(path2), lambda part: schema.make_meta(part=part), linger=1.0)
    assert w2.flush()
    t0 = time.monotonic()
    for i in range(45):  # 1 linger, then 4-5 full batches waiting: written one after the other
        w2.submit({"v": 1, "kind": "exchange", "id": str(i)})
    while w2.written < 45 and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    assert w2.written == 45 and time.monotonic() - t0 < 2.5  # one linger, not one per batch (5 s)
    w2.close()


def test_reason_phrase_is_the_status_phrase_on_http1_only():
    from http import HTTPStatus

    from mcpsniff.capture.asgi import reason_phrase

    for status in HTTPStatus:
        assert reason_phrase(int(status), "HTTP/1.1") == status.phrase == reason_phrase(int(status), "HTTP/1.0")
        assert reason_phrase(int(status), "HTTP/2.0") == ""
    assert reason_phrase(299, "HTTP/1.1") == "" and reason_phrase(999, "HTTP/1.1") == ""
