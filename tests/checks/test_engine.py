"""The check engine: templates, scope from the catalogue, one finding per plane."""

from __future__ import annotations

import dataclasses

import pytest

from mcpsniff import model
from mcpsniff.checks import catalogue, engine
from mcpsniff.checks.engine import Selection, fill, in_scope, per_plane
from golden import cases
from synth import Scenario, seed_scenario

A, B = "client-a/1", "client-b/1"


def test_fill_formats_scalars_lists_and_dicts():
    assert fill("{count} of {total}", {"count": 3, "total": 4}) == "3 of 4"
    assert fill("answered {s}", {"s": ["200", "204"]}) == "answered 200, 204"
    assert fill("seen: {s:semicolons}", {"s": ["a, b", "c"]}) == "seen: a, b; c"
    assert fill("{h}", {"h": {"Mcp-Method": 2, "Mcp-Name": 1}}) == "Mcp-Method x2, Mcp-Name x1"
    assert fill("{e:semicolons}", {"e": {"reset": 2, "timeout": 1}}) == "reset x2; timeout x1"


@pytest.mark.parametrize("rule", list(catalogue.RULES.values()), ids=lambda r: r.id)
def test_every_template_fills_with_what_its_check_gives(rule, tmp_path):
    """Run each rule's golden trigger and render its detail: no missing template value."""
    m = model.from_records(cases()[rule.id].trigger)
    fs = [f for f in engine.run_checks(m) if f.rule == rule.id]
    assert fs and all(f.detail for f in fs)


def _model_with_two_eras():
    s = Scenario()
    s.initialize(A, sid="s-1", version="2025-03-26")
    s.request(A, "tools/list", sid="s-1", pv=None)
    s.modern(B, "tools/list")
    return model.from_records(s.records)


def test_scope_reads_eras_and_since_from_the_rule():
    m = _model_with_two_eras()

    def scope(rule):
        return [bool(v) for (v,) in m.rows(f"SELECT coalesce({in_scope(m, rule)}, false) FROM m ORDER BY pos")]

    everything = dataclasses.replace(catalogue.get("no-response"), eras=("legacy", "handshake", "modern"), since=None)
    assert scope(everything) == [True, True, True]
    hs_only = dataclasses.replace(everything, eras=("handshake",))
    assert scope(hs_only) == [True, True, False]
    since = dataclasses.replace(everything, since="2025-06-18")
    # the handshake session negotiated 2025-03-26: out of scope; the modern request is 2026-07-28
    assert scope(since) == [False, False, True]


def test_per_plane_groups_and_counts():
    m = model.from_records(seed_scenario(tool_calls=2).records)
    rule = catalogue.get("session-id-dropped")
    fs = per_plane(m, rule, Selection("TRUE", {"total": "count(*)"}))
    assert [f.plane for f in fs] == sorted({"openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"})
    assert sum(f.count for f in fs) == m.n and all(f.values == {"total": f.count} for f in fs)
    assert fs[0].by_method == {"initialize": 1, "notifications/initialized": 1, "tools/call": 2}
    assert fs[1].by_method == {"initialize": 1, "notifications/initialized": 1, "resources/read": 1, "tools/list": 1}
    assert fs[0].version == "2025-11-25"


def test_evidence_is_found_again_from_the_finding_alone():
    """A finding is plain data; the engine finds its exchanges again (its rule, in scope, on its plane)."""
    m = model.from_records(seed_scenario(tool_calls=3).records)
    fs = engine.run_checks(m)
    assert fs and all(dataclasses.is_dataclass(f) and "where" not in dataclasses.asdict(f) for f in fs)
    for f in fs:
        ev = engine.evidence(m, f)
        assert len(ev) == f.count and {e["plane"] for e in ev} == {f.plane}
    assert len(engine.evidence(m, fs[0], 1)) == 1
    assert m.count(engine.marks(m, fs)) == len({e["id"] for f in fs for e in engine.evidence(m, f)})
    assert engine.marks(m, []) is None


def test_healthy_traffic_costs_one_scan_to_find_the_rules_that_fire():
    """Conditions over 404s, refusals, DELETEs or bad session ids are FALSE when the capture has none,
    and the sessions' endpoints are listed, not looked up: no condition needs a scan of its own."""
    s = seed_scenario(tool_calls=2)
    s.request("openai-mcp/1.0.0", "tools/list", sid="not-issued-here", status=400, error=(-32600, "Bad Request"))
    m = model.from_records(s.records)
    scans = []
    rows = m.rows
    m.rows = lambda sql, params=(): (scans.append(sql) if sql.startswith("SELECT count(*) FILTER") else None) or rows(sql, params)
    findings = engine.run_checks(m)
    assert len(scans) == 1 and "SELECT" not in scans[0][len("SELECT"):].upper()
    assert {f.rule for f in findings} >= {"session-id-dropped"}


def test_a_condition_over_earlier_requests_still_fires_when_they_exist():
    s = Scenario()
    s.initialize(A, sid="s-1")
    s.delete(A, sid="s-1", status=200)
    s.request(A, "tools/list", sid="s-1", status=200)
    m = model.from_records(s.records)
    rules = {f.rule for f in engine.run_checks(m)}
    assert "deleted-session-accepted" in rules and "no-reinit-after-404" not in rules
