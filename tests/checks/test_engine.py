"""The check engine: templates, scope from the catalogue, one finding per plane."""

from __future__ import annotations

import dataclasses

import pytest

from mcpsniff import model
from mcpsniff.checks import catalogue, engine
from mcpsniff.checks.engine import Selection, fill, in_scope, per_plane
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
    from test_golden import CASES

    s, _, _ = CASES[rule.id][0]()
    m = model.from_records(s.records)
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
    assert len(m.evidence(fs[0].where)) == fs[0].count
    assert fs[0].by_method == {"initialize": 1, "notifications/initialized": 1, "tools/call": 2}
    assert fs[1].by_method == {"initialize": 1, "notifications/initialized": 1, "resources/read": 1, "tools/list": 1}
    assert fs[0].version == "2025-11-25"


def test_check_registry_rejects_unknown_ids_and_duplicates():
    with pytest.raises(KeyError, match="no-such-rule"):
        engine.check("no-such-rule")
    with pytest.raises(ValueError, match="two checks"):
        engine.check("session-id-dropped")(lambda m: Selection("FALSE"))
