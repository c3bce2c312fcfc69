"""Flow -> record conversion (pure functions, mitmproxy test flows, no proxy)."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
from mitmproxy import http
from mitmproxy.net import encoding as mencoding
from mitmproxy.test import tflow, tutils

from mcpsniff import schema
from mcpsniff.capture.convert import SseCollector, body_record, envelope, exchange_record, rpc_messages
from mcpsniff.capture.decode import StreamDecoder, decode_content
from mcpsniff.capture.detect import McpEndpoints, is_mcp
from mcpsniff.mcp import endpoint_key
from mcpsniff.capture.redact import Redactor

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}}


def flow(method=b"POST", path=b"/mcp", req_body=b"", req_headers=(), status=200, resp_body=b"", resp_headers=(),
         resp=True, err=False) -> http.HTTPFlow:
    req = tutils.treq(method=method, path=path, content=req_body, headers=http.Headers(list(req_headers)))
    rsp = tutils.tresp(status_code=status, content=resp_body, headers=http.Headers(list(resp_headers))) if resp else False
    return tflow.tflow(req=req, resp=rsp, err=err)


def j(obj) -> bytes:
    return json.dumps(obj).encode()


# -- decoding --------------------------------------------------------------------------------
PAYLOAD = b'{"jsonrpc":"2.0","id":1,"result":{}}' * 50


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_decode_each_encoding_whole_and_in_pieces(enc):
    raw = mencoding.encode(PAYLOAD, enc)
    assert decode_content(raw, enc) == PAYLOAD
    d = StreamDecoder(enc)
    out = b"".join(d.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)) + d.flush()
    assert out == PAYLOAD


def test_raw_deflate_and_stacked_encodings():
    co = zlib.compressobj(wbits=-15)
    raw = co.compress(PAYLOAD) + co.flush()
    assert decode_content(raw, "deflate") == PAYLOAD
    stacked = brotli.compress(gzip.compress(PAYLOAD))  # "gzip, br": gzip applied first
    assert decode_content(stacked, "gzip, br") == PAYLOAD


def test_unknown_or_broken_encoding():
    with pytest.raises(ValueError, match="unsupported"):
        decode_content(b"x", "compress")
    with pytest.raises(ValueError):
        decode_content(b"not gzip at all", "gzip")
    # kept as it travelled (escaped), with the reason: nothing forwarded goes unrecorded
    b = body_record(b"not gzip\xff", [("Content-Encoding", "gzip")])
    assert b["size"] == 9 and b["encoding"] == "gzip" and b["text"] == "not gzip\\xff"
    assert b["reason"].startswith("cannot decode gzip body")


# -- bodies -----------------------------------------------------------------------------------
def test_jsonrpc_body_single_and_batch():
    b = body_record(j(INIT), [("Content-Type", "application/json")])
    assert b["rpc"] == [INIT] and not b["batch"] and b["text"] is None and b["size"] == len(j(INIT))
    batch = [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    b = body_record(j(batch), [])
    assert b["batch"] and b["rpc"] == batch


def test_gzip_json_body_is_decoded_and_encoding_recorded():
    raw = gzip.compress(j(INIT))
    b = body_record(raw, [("Content-Encoding", "gzip"), ("Content-Type", "application/json")])
    assert b["encoding"] == "gzip" and b["rpc"] == [INIT] and b["size"] == len(j(INIT))


def test_non_rpc_json_and_text_and_empty():
    b = body_record(b'{"resource": "https://x", "access_token": "T0K-SECRET"}', [], redactor=Redactor())
    assert b["rpc"] is None and "T0K-SECRET" not in b["text"] and "https://x" in b["text"]
    assert body_record(b"hello", [])["text"] == "hello"
    assert body_record(b"", []) == schema.make_body(0)
    assert body_record(None, [])["size"] == -1


def test_form_body_redacted():
    b = body_record(b"grant_type=refresh_token&refresh_token=RT1", [("content-type", "application/x-www-form-urlencoded")],
                    redactor=Redactor())
    assert "RT1" not in b["text"] and b["text"].startswith("grant_type=refresh_token&refresh_token=<redacted:")


def test_large_text_is_cut_at_the_limit():
    b = body_record(b"a" * 5000, [("content-type", "text/plain")], limit=1000)
    assert b["truncated"] and b["size"] == 5000 and len(b["text"]) == 1000


def test_large_jsonrpc_body_keeps_an_envelope_per_message():
    big = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": "search", "arguments": {"q": "x" * 5000}, "_meta": {"progressToken": 3}}}
    res = {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18", "capabilities": {"a": "b" * 5000}}}
    b = body_record(j([big, res]), [], limit=1000)
    assert b["truncated"] and b["batch"] and b["size"] > 1000
    assert b["rpc"][0] == {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                           "params": {"_meta": {"progressToken": 3}, "name": "search"}}
    assert b["rpc"][1] == {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18"}}
    assert len(json.dumps(b)) < 1000


def test_envelope_keeps_errors_and_uri():
    assert envelope({"jsonrpc": "2.0", "id": 2, "error": {"code": -1, "message": "m"}}) == {
        "jsonrpc": "2.0", "id": 2, "error": {"code": -1, "message": "m"}}
    assert envelope({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "u", "x": 1}})["params"] == {"uri": "u"}


def test_rpc_messages():
    assert rpc_messages({"jsonrpc": "2.0"}) == ([{"jsonrpc": "2.0"}], False)
    assert rpc_messages([]) == (None, False)
    assert rpc_messages([{"jsonrpc": "2.0"}, 1]) == (None, False)
    assert rpc_messages({"a": 1}) == (None, False)


# -- exchanges ------------------------------------------------------------------------------
def test_exchange_record_fields_and_header_order():
    f = flow(req_body=j(INIT),
             req_headers=[(b"User-Agent", b"ua/1"), (b"Accept", b"application/json"), (b"accept", b"text/event-stream"),
                          (b"Authorization", b"Bearer SECRET"), (b"Content-Type", b"application/json")],
             resp_body=j({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18"}}),
             resp_headers=[(b"Content-Type", b"application/json"), (b"Mcp-Session-Id", b"s-1")])
    f.request.path = "/mcp?access_token=QS"
    rec = exchange_record(f, redactor=Redactor())
    assert schema.check_record(rec) == "exchange"
    r = rec["req"]
    assert r["method"] == "POST" and "QS" not in r["url"] and r["url"].startswith("http://address:22/mcp?access_token=<redacted:")
    assert [h[0] for h in r["headers"]] == ["User-Agent", "Accept", "accept", "Authorization", "Content-Type"]
    assert r["headers"][3][1].startswith("Bearer <redacted:")
    assert r["body"]["rpc"] == [INIT] and r["http_version"] == "HTTP/1.1"
    assert rec["resp"]["status"] == 200 and rec["resp"]["content_type"] == "application/json"
    assert ["Mcp-Session-Id", "s-1"] in rec["resp"]["headers"]
    assert rec["resp"]["body"]["rpc"][0]["result"]["protocolVersion"] == "2025-06-18"
    assert rec["t"] == {"req": f.request.timestamp_start, "resp": f.response.timestamp_start, "end": f.response.timestamp_end}
    assert rec["client"] == {"addr": "127.0.0.1:22", "conn": f.client_conn.id}
    assert rec["server"] == {"addr": "address:22"} and rec["id"] == f.id and rec["error"] is None
    assert "SECRET" not in json.dumps(rec)


def test_exchange_without_response_has_error():
    f = flow(req_body=j(INIT), resp=False, err=True)
    rec = exchange_record(f)
    assert rec["resp"] is None and rec["error"] == f.error.msg and rec["t"]["end"] == f.error.timestamp
    rec = exchange_record(flow(resp=False), error="capture stopped", now=123.0)
    assert rec["error"] == "capture stopped" and rec["t"]["end"] == 123.0


def test_ipv6_addresses():
    f = flow()
    f.client_conn.peername = ("::1", 5000, 0, 0)
    assert exchange_record(f)["client"]["addr"] == "[::1]:5000"


def test_buffered_sse_response_is_parsed_into_events():
    body = b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'
    f = flow(resp_body=body, resp_headers=[(b"content-type", b"text/event-stream")])
    rec = exchange_record(f)
    assert len(rec["resp"]["sse"]) == 1 and rec["resp"]["sse"][0]["event"] == "message"
    assert rec["resp"]["body"]["size"] == len(body)


# -- SSE collection -------------------------------------------------------------------------
def sse_json(i: int, pad: int = 0) -> bytes:
    msg = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"i": i, "pad": "p" * pad}}
    return b"id: %d\ndata: %s\n\n" % (i, j(msg))


def test_collector_gzip_stream_chunked_anywhere():
    raw = gzip.compress(b"".join(sse_json(i) for i in range(5)) + b"id: tail\ndata: {\"jsonrpc\":")
    c = SseCollector("gzip")
    got = []
    for k in range(0, len(raw), 5):
        got += c.feed(raw[k : k + 5], t=float(k))
    got += c.finish(t=999.0)
    assert [e["id"] for e in got] == ["0", "1", "2", "3", "4", "tail"]
    assert got[-1]["truncated"] and got[-1]["t"] == 999.0
    assert not any(e["truncated"] for e in got[:-1])
    assert c.events == got and c.size == len(gzip.decompress(raw)) and c.raw_size == len(raw)
    assert c.body()["encoding"] == "gzip" and not c.body()["truncated"]


def test_collector_redacts_json_event_data_and_endpoint_urls():
    c = SseCollector(None, redactor=Redactor())
    evs = c.feed(b'data: {"jsonrpc":"2.0","id":1,"result":{"access_token":"AT9"}}\n\n'
                 b"event: endpoint\ndata: /messages/?session_id=abc&token=TK\n\n", t=1.0)
    assert "AT9" not in evs[0]["data"] and json.loads(evs[0]["data"])["result"]["access_token"].startswith("<redacted:")
    assert "TK" not in evs[1]["data"] and "session_id=abc" in evs[1]["data"]
    assert c.endpoints == ["/messages/?session_id=abc&token=TK"]  # raw, for endpoint learning only


def test_collector_keeps_envelopes_past_the_limit():
    c = SseCollector(None, limit=500)
    evs = c.feed(b"".join(sse_json(i, pad=200) for i in range(6)), t=1.0)
    assert len(evs) == 6
    assert not evs[0]["truncated"] and json.loads(evs[0]["data"])["params"]["pad"] == "p" * 200
    late = [e for e in evs if e["truncated"]]
    assert late and all(json.loads(e["data"]) == {"jsonrpc": "2.0", "method": "notifications/message"} for e in late)


def test_collector_unsupported_encoding_passes_nothing_and_marks_failure():
    c = SseCollector("compress")
    assert c.feed(b"xx") == [] and c.finish() == []
    assert c.failed and c.body()["truncated"] and c.raw_size == 2


def test_collector_never_raises_on_corrupt_gzip():
    c = SseCollector("gzip")
    assert c.feed(b"definitely not gzip") == []
    assert c.failed.startswith("SSE capture stopped")
    assert c.finish() == []


# -- is it MCP? -----------------------------------------------------------------------------
def test_is_mcp_by_body_headers_sse_or_known_endpoint():
    assert is_mcp(flow(req_body=j(INIT)))
    assert is_mcp(flow(req_body=gzip.compress(j(INIT)), req_headers=[(b"content-encoding", b"gzip")]))
    assert is_mcp(flow(method=b"DELETE", req_headers=[(b"Mcp-Session-Id", b"s")]))
    assert is_mcp(flow(method=b"GET", req_headers=[(b"MCP-Protocol-Version", b"2025-06-18")]))
    assert is_mcp(flow(method=b"GET", resp_headers=[(b"content-type", b"text/event-stream; charset=utf-8")]))
    assert is_mcp(flow(req_body=b"{}", resp_body=j({"jsonrpc": "2.0", "id": None, "error": {"code": -32700}})))
    plain = flow(method=b"GET", path=b"/.well-known/oauth-protected-resource", resp_body=b'{"resource":"x"}')
    assert not is_mcp(plain)
    assert not is_mcp(flow(req_body=b'{"not":"jsonrpc"}'))
    get = flow(method=b"GET", status=405)
    assert not is_mcp(get)
    assert is_mcp(get, known={endpoint_key(get.request.url)})


def test_endpoints_learn_legacy_post_url_from_endpoint_event():
    eps = McpEndpoints()
    sse_get = flow(method=b"GET", path=b"/sse")
    eps.learn(sse_get, ["/messages/?session_id=abc"])
    post = flow(path=b"/messages/?session_id=zzz", req_body=b"not json")
    assert eps.is_mcp(post)
    assert not eps.is_mcp(flow(path=b"/other"))
    assert endpoint_key("http://h:1/a/b?x=1#f") == "http://h:1/a/b"


def test_preflights_for_mcp_headers_and_redirect_targets_are_mcp():
    pre = flow(method=b"OPTIONS", req_headers=[(b"Origin", b"http://localhost:6274"), (b"Access-Control-Request-Method", b"POST"),
                                              (b"Access-Control-Request-Headers", b"content-type,mcp-protocol-version,mcp-session-id")],
               status=204)
    assert is_mcp(pre)
    other = flow(method=b"OPTIONS", req_headers=[(b"Access-Control-Request-Headers", b"content-type")], status=204)
    assert not is_mcp(other)  # a preflight for something else
    # a redirected MCP request teaches where its endpoint lives now
    eps = McpEndpoints()
    moved = flow(path=b"/mcp", req_body=j(INIT), status=307, resp_headers=[(b"location", b"/mcp/")])
    assert eps.is_mcp(moved)
    eps.learn(moved)
    assert eps.is_mcp(flow(method=b"GET", path=b"/mcp/", status=405))


def test_an_oversize_sse_event_keeps_its_envelope():
    big = {"jsonrpc": "2.0", "id": 42, "result": {"content": [{"type": "text", "text": "z" * 50_000}], "protocolVersion": "2025-11-25"}}
    c = SseCollector(None, limit=1000)
    (ev,) = c.feed(b"event: message\ndata: " + j(big) + b"\n\n", t=1.0)
    assert ev["truncated"] and json.loads(ev["data"]) == {"jsonrpc": "2.0", "id": 42, "result": {"protocolVersion": "2025-11-25"}}


def test_an_event_longer_than_anything_parsed_keeps_what_its_prefix_shows(monkeypatch):
    from mcpsniff.capture import convert
    from mcpsniff.capture.sse import SseParser

    c = SseCollector(None, limit=100)
    c._parser = SseParser(max_line=300)  # as if the event outgrew PARSE_CAP
    big = {"jsonrpc": "2.0", "id": "call-9", "method": "notifications/progress", "params": {"pad": "p" * 5000}}
    (ev,) = c.feed(b"data: " + j(big) + b"\n\n", t=1.0)
    assert ev["truncated"] and json.loads(ev["data"]) == {"jsonrpc": "2.0", "id": "call-9", "method": "notifications/progress",
                                                          "params": {}}
    assert convert.envelope_from_prefix('{"result": {"a": 1}') is None  # no jsonrpc member: nothing claimed


def test_bodies_that_are_not_storable_json_are_kept_as_text_with_a_reason():
    deep = b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 300 + b"]" * 300 + b"}"
    b = body_record(deep, [("Content-Type", "application/json")])
    assert b["rpc"] is None and b["text"].startswith('{"jsonrpc"') and "nested too deeply" in b["reason"]
    nan = body_record(b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"v":NaN}}', [("Content-Type", "application/json")])
    assert nan["rpc"] is None and nan["reason"].startswith("not valid JSON")
    bad = body_record(b'{"jsonrpc":"2.0","id":1,"s":"\xff"}', [])
    assert "\\xff" in bad["text"]


def test_fallback_record_drops_the_query_and_redacts_the_path():
    from mcpsniff.capture.convert import fallback_record

    f = flow(path=b"/k/sk-proj-AbCdEf0123456789xyzXYZ/mcp?api_key=zzz", status=502)
    rec = fallback_record(f, "mcpsniff could not record this exchange fully: X", redactor=Redactor())
    schema.check_record(rec)
    assert "sk-proj" not in rec["req"]["url"] and "zzz" not in rec["req"]["url"] and rec["req"]["url"].endswith("/mcp")
    assert rec["resp"]["status"] == 502 and rec["req"]["headers"] == [] and rec["error"].endswith(": X")

    class Broken(Redactor):
        def url(self, url):
            raise ValueError("redactor bug")

    rec = fallback_record(f, "why", redactor=Broken())  # never raises, and then keeps no URL at all
    assert rec["req"]["url"] == "?"
