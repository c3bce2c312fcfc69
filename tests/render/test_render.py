"""Render works from plain documents alone, and offers its formats from one registry."""

from __future__ import annotations

import json

from mcpsniff import render
from mcpsniff.render import diff_view, text

DOC = {  # a hand-made analysis document: render needs nothing else
    "mcpsniff": {"version": "0", "document": 1, "schema": 1},
    "inputs": [], "problems": [],
    "capture": {"exchanges": 2, "mcp_exchanges": 2, "start": "t0", "end": "t1", "eras": {"handshake": 2}, "spec_versions": ["2025-11-25"]},
    "planes": [{"user_agent": "ua/1", "client_info": [], "era": "handshake", "eras": {"handshake": 2}, "versions": ["2025-11-25"],
                "requests": 2, "sessions_issued": 1, "verdict": "ok", "findings": {"error": 0, "warning": 0, "info": 0},
                "session_header": {"echoed": 1, "dropped": 0, "foreign": 0, "unknown": 0, "none": 0},
                "methods": [{"method": "tools/list", "requests": 1, "echoed": 1, "dropped": 0, "foreign": 0, "unknown": 0, "none": 0,
                             "statuses": {"200": 1}}], "first_seen": "t0", "last_seen": "t1",
                "latency": [{"method": "tools/list", "requests": 1, "response_end_ms": {"count": 1, "p50": 2.5, "p95": 2.5, "p99": 2.5},
                             "first_event_ms": None}],
                "rules_checked": ["r-one"]}],
    "summary": {"findings": {"error": 0, "warning": 0, "info": 0}, "failing_planes": []},
    "findings": [],
    "rules": [{"id": "r-one", "severity": "error", "party": "client", "title": "T", "explanation": "E", "eras": ["handshake"],
               "spec": {"source": "MCP", "version": "2025-11-25", "section": "S", "url": "https://example.invalid/s"}}],
}


def test_registry_offers_formats_per_document_kind():
    assert render.formats("analysis")[0] == "table" and {"json", "markdown", "sarif", "junit"} <= set(render.formats("analysis"))
    assert render.formats("report")[0] == "markdown"
    assert set(render.formats("diff")) >= {"table", "json", "markdown"}


def test_each_analysis_format_renders_a_plain_document():
    out = {f: render.render("analysis", f, DOC, render.Context(width=120)) for f in render.formats("analysis")}
    assert json.loads(out["json"]) == DOC
    assert "| `ua/1` |" in out["markdown"] and "No violation" in out["markdown"]
    assert "ua/1" in out["table"] and "No findings." in out["table"] and "\x1b[" not in out["table"]
    coloured = render.render("analysis", "table", DOC, render.Context(width=120, color=True))
    assert "\x1b[" in coloured


def test_text_helpers():
    assert text.cut("abcdef", 4) == "abc…" and text.cut("abc", 4) == "abc"
    assert text.pct(0.5) == "50%" and text.pct(None) == "-" and text.pct(None, "n/a") == "n/a"
    assert text.code("a`b") == "`` a`b ``" and text.code("") == "-"
    assert text.md_text("@me <b>*x*</b>") == "&#64;me &lt;b&gt;\\*x\\*&lt;/b&gt;"


def test_diff_reasons_are_worded_in_render():
    assert diff_view.reason_text({"kind": "new-error", "rule": "r"}) == "new error finding r"
    assert diff_view.reason_text({"kind": "drop-rate", "method": "tools/call", "before": None, "after": 0.5}) == "tools/call drop rate n/a → 50%"
