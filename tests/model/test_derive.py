"""Derived facts, tested on small record lists without files: planes, eras, sessions, echo classes."""

from __future__ import annotations

import os

import pytest

from mcpsniff import model
from synth import Scenario, seed_scenario

A, B = "client-a/1", "client-b/1"


def classes(m) -> list[tuple[str, str, str]]:
    return [(p, lbl, e or "-") for p, lbl, e in m.rows(f"SELECT plane, {m.LABEL}, echo FROM m ORDER BY pos")]


def test_seed_echo_classes():
    m = model.from_records(seed_scenario(tool_calls=2).records)
    tool = [(lbl, e) for p, lbl, e in classes(m) if p == "openai-mcp/1.0.0"]
    assert tool == [("initialize", "-"), ("notifications/initialized", "echoed"), ("tools/call", "dropped"), ("tools/call", "dropped")]
    assert sorted(s["sid"] for s in m.sessions()) == ["ctrl-aaa", "tool-bbb"]
    assert m.rows("SELECT DISTINCT era FROM m") == [("handshake",)]


def test_foreign_unknown_and_scope():
    s = Scenario()
    s.initialize(A, sid="a-1")
    s.initialize(B, sid="b-1")
    s.request(B, "tools/list", sid="a-1")  # A's id on B: foreign
    s.request(B, "tools/list", sid="never-issued")  # unknown
    other = "http://127.0.0.1:9000/mcp"
    s.request(A, "tools/list", sid=None, url=other)  # another server issued nothing: none, not dropped
    s.request(A, "tools/list", sid=None)  # the issuing server: dropped
    got = [e for _, _, e in classes(model.from_records(s.records))][2:]
    assert got == ["foreign", "unknown", "none", "dropped"]


def test_negotiated_version_comes_from_the_session_or_else_from_the_scopes_latest_initialize():
    """A follow-up carrying an id issued here takes that session's version (even when its own plane
    initialized again since); one without an id, or with an id never seen issued, takes the version of
    its scope's latest successful initialize that finished before it started; before any, none."""
    s = Scenario()
    s.request(A, "tools/list", sid=None)  # nothing issued yet
    s.initialize(A, sid="a-1", version="2025-03-26")
    s.initialize(A, sid="a-2", version="2025-06-18")
    s.request(A, "tools/list", sid="a-1")  # its session's version, not the latest
    s.request(A, "tools/list", sid=None)  # dropped: the scope's latest
    s.request(A, "tools/list", sid="never-issued")  # unknown: the scope's latest too
    s.request(B, "tools/list", sid="a-2")  # foreign: the session's version
    s.request(B, "tools/list", sid=None)  # B's scope issued nothing
    m = model.from_records(s.records)
    got = m.rows("SELECT echo, neg_version FROM m WHERE follow_up ORDER BY pos")
    assert got == [("none", None), ("echoed", "2025-03-26"), ("dropped", "2025-06-18"),
                   ("unknown", "2025-06-18"), ("foreign", "2025-06-18"), ("none", None)]


def test_session_header_on_an_error_response_issues_nothing():
    s = Scenario()
    s.initialize(A, sid="x-1", status=400)
    s.request(A, "tools/list", sid=None)
    m = model.from_records(s.records)
    assert m.sessions() == [] and classes(m)[-1][2] == "none"


def test_eras_per_exchange():
    s = Scenario()
    s.initialize(A, status=405)  # probe: refused POST initialize ...
    s.legacy_session(A, "abc", ["tools/list"])  # ... then the legacy GET stream
    s.modern(B, "tools/list")
    m = model.from_records(s.records)
    eras = [e for (e,) in m.rows("SELECT era FROM m ORDER BY pos")]
    assert eras[0] == "probe" and eras[-1] == "modern" and set(eras[1:-1]) == {"legacy"}
    assert m.rows(f"SELECT {m.SPEC_VERSION} FROM m ORDER BY pos")[-1] == ("2026-07-28",)
    assert m.rows(f"SELECT {m.in_eras(('legacy',))} FROM m ORDER BY pos")[0] == (True,)  # a probe counts as legacy


def test_plane_facts_and_evidence():
    m = model.from_records(seed_scenario(tool_calls=3).records)
    facts = {p["user_agent"]: p for p in m.plane_facts()}
    tool = facts["openai-mcp/1.0.0"]
    assert tool["requests"] == 5 and tool["sessions_issued"] == 1
    assert tool["session_header"] == {"echoed": 1, "dropped": 3, "foreign": 0, "unknown": 0, "none": 0}
    assert [x["method"] for x in tool["methods"]] == ["initialize", "notifications/initialized", "tools/call"]
    ev = m.evidence("echo = 'dropped'")
    assert [e["method"] for e in ev] == ["tools/call"] * 3 and ev[0]["source"] == "(records):7" and ev[0]["status"] == 400
    assert len(m.evidence("echo = 'dropped'", limit=2)) == 2


def _m_rows(m) -> list[tuple]:
    return m.rows("SELECT * EXCLUDE (pos), pos FROM m ORDER BY pos")


def test_rows_in_file_order_are_put_beside_their_facts_and_rows_out_of_order_are_joined():
    from mcpsniff.load import InputInfo
    import importlib

    derive_mod = importlib.import_module("mcpsniff.model.derive")  # the module (the package exports the function)
    from mcpsniff.model.rows import row_of

    s = seed_scenario(tool_calls=3)
    rows = [row_of(r, 0, i) for i, r in enumerate(s.records, 1)]
    in_order = model.from_rows([rows], InputInfo("x", "records", len(rows)))
    # the same rows inserted back to front: a part that claims file order but is not in it
    shuffled = model.from_rows([rows[::-1]], InputInfo("x", "records", len(rows)))
    assert _m_rows(in_order) == _m_rows(shuffled) and len(_m_rows(in_order)) == len(rows)

    calls = []
    real = derive_mod._beside

    def spy(con, sql, *rest):
        calls.append(real(con, sql, *rest))
        return calls[-1]

    derive_mod._beside = spy
    try:
        again = model.from_rows([rows], InputInfo("x", "records", len(rows)))
        back = model.from_rows([rows[::-1]], InputInfo("x", "records", len(rows)))
    finally:
        derive_mod._beside = real
    assert calls == [True, False]  # beside by position; out of step, so joined instead
    assert _m_rows(again) == _m_rows(back) == _m_rows(in_order)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="DuckDB has one thread here: parts go in one at a time")
def test_parts_are_put_beside_their_facts_several_at_once(tmp_path, monkeypatch):
    """Each fast-read file is a part; parts go in as many at once as DuckDB has threads, each on
    its own cursor (a barrier only two parts in flight together pass), and the table is the one the
    careful reader's single part gives."""
    import importlib
    import threading
    from pathlib import Path

    derive_mod = importlib.import_module("mcpsniff.model.derive")
    samples = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.jsonl"))
    paths = [str(p) for p in samples[:3]]
    monkeypatch.setattr(model, "FAST_MIN_BYTES", 1 << 40)
    careful = model.build(paths)
    want = _m_rows(careful)
    careful.close()
    monkeypatch.setattr(model, "FAST_MIN_BYTES", 0)
    together = threading.Barrier(2, timeout=30)
    real = derive_mod._beside

    def spy(con, sql, *rest):
        if "f0 " in sql or "f1 " in sql:
            together.wait()  # BrokenBarrierError unless the first two parts go in at the same time
        return real(con, sql, *rest)

    monkeypatch.setattr(derive_mod, "_beside", spy)
    m = model.build(paths)
    try:
        assert [i.fmt for i in m.inputs] == ["jsonl"] * 3 and _m_rows(m) == want
    finally:
        m.close()


def test_runs_keep_the_first_few_and_the_first_error_and_sum_up_the_rest():
    s = Scenario()
    s.initialize(A, sid="a-1")  # run 0
    for k in range(1, 10):  # runs 1..9: alternating methods, run 7 is the first "error"
        method = "resources/read" if k == 7 else ("tools/list" if k % 2 else "tools/call")
        s.request(A, method, sid="a-1")
        s.request(A, method, sid="a-1")
    m = model.from_records(s.records)
    got = m.runs([A], "rpc_method = 'resources/read'", keep=4)
    assert [(r["kind"], r.get("method"), r.get("mark"), r.get("count"), r.get("steps"), r.get("errors")) for r in got] == [
        ("run", "initialize", "ok", 1, None, None),
        ("run", "tools/list", "ok", 2, None, None),
        ("run", "tools/call", "ok", 2, None, None),
        ("gap", None, None, None, 4, 0),  # runs 3-6 left out
        ("run", "resources/read", "error", 2, None, None),
        ("gap", None, None, None, 2, 0),  # runs 8-9
    ]
    assert [r["requests"] for r in got if r["kind"] == "gap"] == [8, 4]
    # few enough runs: all of them, no gap
    assert [r["kind"] for r in m.runs([A], None, keep=10)] == ["run"] * 10
    # no error: the first `keep`, one gap
    assert [r["kind"] for r in m.runs([A], None, keep=4)] == ["run"] * 4 + ["gap"]


def test_a_run_counts_only_its_own_planes_mcp_exchanges_and_their_statuses():
    """Runs are per plane: another plane's requests and non-MCP traffic in between neither split a
    run nor count in it, and each run's statuses are its own."""
    s = Scenario()
    s.initialize(A, sid="a-1")
    s.initialize(B, sid="b-1")
    s.request(A, "tools/list", sid="a-1", status=200)
    s.request(B, "tools/list", sid="b-1", status=500)
    s.exchange(A, http_method="GET", url="http://127.0.0.1:8000/favicon.ico", status=404)  # not MCP
    s.request(A, "tools/list", sid="a-1", status=503)
    s.request(A, "tools/call", sid="a-1", status=200)
    s.request(B, "tools/list", sid="b-1", status=500)
    m = model.from_records(s.records)
    got = m.runs([A, B], None, keep=10)
    assert [(r["plane"], r["method"], r["count"], r["statuses"]) for r in got] == [
        (A, "initialize", 1, {"200": 1}),
        (A, "tools/list", 2, {"200": 1, "503": 1}),
        (A, "tools/call", 1, {"200": 1}),
        (B, "initialize", 1, {"200": 1}),
        (B, "tools/list", 2, {"500": 2}),
    ]
