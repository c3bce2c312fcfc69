"""Model.latency: request -> response end and request -> first SSE event, per plane and method."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from mcpsniff import schema
from mcpsniff.model import from_records


def rec(ua: str, method: str, t: float, *, end: float | None, first_event: float | None = None, status: int | None = 200):
    body = schema.make_body(10, rpc=[{"jsonrpc": "2.0", "id": 1, "method": method}])
    resp = None
    if status is not None:
        sse = [schema.make_event(first_event, '{"jsonrpc":"2.0","id":1,"result":{}}')] if first_event is not None else None
        resp = schema.make_response(status, [("Content-Type", "text/event-stream" if sse else "application/json")],
                                    schema.make_body(10), sse=sse)
    return schema.make_exchange(f"x{t}", t_req=t, t_resp=None if status is None else t + 0.001, t_end=end, method="POST",
                                url="http://h/mcp", req_headers=[("User-Agent", ua), ("MCP-Protocol-Version", "2025-11-25")],
                                req_body=body, resp=resp, error=None if status is not None else "Server disconnected.")


def test_first_event_time_is_a_column():
    m = from_records([rec("a", "tools/call", 10.0, end=10.5, first_event=10.2), rec("a", "tools/call", 11.0, end=11.5)])
    assert m.rows("SELECT t_event FROM m ORDER BY pos") == [(10.2,), (None,)]


def test_percentiles_per_plane_and_method():
    recs = [rec("a/1", "tools/call", 100.0 + i, end=100.0 + i + (i + 1) / 1000, first_event=100.0 + i + 0.0005) for i in range(10)]
    recs.append(rec("a/1", "tools/call", 200.0, end=None, status=None))  # no response: no sample
    recs.append(rec("a/1", "tools/list", 201.0, end=201.004))
    recs.append(rec("b/1", "tools/list", 202.0, end=202.010))
    lat = from_records(recs).latency()
    assert set(lat) == {"a/1", "b/1"}
    call, listing = lat["a/1"]
    assert call["method"] == "tools/call" and call["requests"] == 11
    end = call["response_end_ms"]
    assert end["count"] == 10
    assert end["p50"] == pytest.approx(np.percentile(np.arange(1, 11), 50), abs=1e-3)
    assert end["p95"] == pytest.approx(np.percentile(np.arange(1, 11), 95), abs=1e-3)
    assert end["p99"] == pytest.approx(np.percentile(np.arange(1, 11), 99), abs=1e-3)
    assert call["first_event_ms"]["count"] == 10 and call["first_event_ms"]["p50"] == pytest.approx(0.5, abs=1e-3)
    assert listing == {"method": "tools/list", "requests": 1, "first_event_ms": None,
                       "response_end_ms": {"count": 1, "p50": pytest.approx(4.0, abs=1e-3), "p95": pytest.approx(4.0, abs=1e-3),
                                           "p99": pytest.approx(4.0, abs=1e-3)}}
    assert lat["b/1"][0]["response_end_ms"]["p50"] == pytest.approx(10.0, abs=1e-3)


def test_no_response_is_one_definition():
    m = from_records([rec("a/1", "tools/call", 1.0, end=1.5, status=None), rec("a/1", "tools/call", 2.0, end=2.1)])
    assert [r[0] for r in m.rows(f"SELECT {m.NO_RESPONSE} FROM m ORDER BY pos")] == [True, False]
    assert m.count(m.NO_RESPONSE) == 1


def test_fast_reader_gives_the_same_latency(tmp_path, monkeypatch):
    from mcpsniff import model as model_pkg
    from mcpsniff.model import build

    recs = [rec("a/1", "tools/call", 100.0 + i, end=100.0 + i + (i + 1) / 1000, first_event=100.0 + i + 0.0005) for i in range(10)]
    p = tmp_path / "cap.jsonl"
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    careful = build([str(p)]).latency()
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    assert build([str(p)]).latency() == careful and careful["a/1"][0]["first_event_ms"]["count"] == 10
