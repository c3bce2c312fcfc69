"""The conversation lint (issue 24) beyond its golden cases: what it shows, and what it refuses to
judge. Captures are built with tests/synth.py and run through the CLI, as users run it."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from golden import cases
from mcpsniff.cli import app
from synth import Scenario

runner = CliRunner()
A = "client-a/1.0"
PATH = "result.structuredContent.count: expected integer, got string"


def answer(rec, result):
    rec["resp"]["body"]["rpc"] = [{"jsonrpc": "2.0", "id": rec["req"]["body"]["rpc"][0]["id"], "result": result}]
    return rec


def run(*args: str):
    r = runner.invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r


@pytest.fixture
def schema_trigger(tmp_path):
    trigger, _ = cases()["tool-result-schema-mismatch"].write(tmp_path)
    return str(trigger)


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown", "table"])
def test_the_offending_path_is_in_every_format(schema_trigger, fmt):
    r = run("analyze", schema_trigger, "-f", fmt)
    assert r.exit_code == 1 and PATH in r.output
    assert "tool-result-schema-mismatch" in r.output


def test_the_report_and_explain_name_the_rule_and_path(schema_trigger, tmp_path):
    out = tmp_path / "r.md"
    run("report", schema_trigger, "-o", str(out))
    text = out.read_text()
    assert "tool-result-schema-mismatch" in text and PATH in text
    r = run("explain", schema_trigger)
    assert "tool-result-schema-mismatch" in r.output


def test_rules_lists_the_conversation_rules_with_their_severity_and_party():
    doc = json.loads(run("rules", "-f", "json").output)
    got = {r["id"]: (r["severity"], r["party"]) for r in doc}
    assert {k: got[k] for k in ("tool-result-schema-mismatch", "capability-not-declared-server",
                                 "duplicate-request-id", "version-not-offered")} == {
        "tool-result-schema-mismatch": ("error", "server"), "capability-not-declared-server": ("error", "server"),
        "duplicate-request-id": ("error", "client"), "version-not-offered": ("warning", "client")}


HOSTILE = {
    "backtracks": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}},
    "deep": {"type": "object", "properties": {"x": {"allOf": [{"not": {"not": {"not": {}}}}]}}, "$defs": {}},
    "remote": {"$ref": "https://example.invalid/schema.json"},
    "invalid": {"type": 5},
    "huge": {"type": "object", "description": "x" * 70_000},
}
node = HOSTILE["deep"]
for _ in range(60):  # nested deeper than any schema is judged
    node["$defs"] = {"n": {"type": "object", "$defs": {}}}
    node = node["$defs"]["n"]


def test_hostile_or_huge_schemas_are_not_judged_and_never_hang(tmp_path):
    s = Scenario()
    s.initialize(A, sid="s-1")
    s.notify(A, sid="s-1")
    tools = [{"name": n, "inputSchema": {"type": "object"}, "outputSchema": schema} for n, schema in HOSTILE.items()]
    tools.append({"name": "count", "inputSchema": {"type": "object"},
                  "outputSchema": {"type": "object", "properties": {"count": {"type": "integer"}}}})
    answer(s.request(A, "tools/list", sid="s-1"), {"tools": tools})
    for name in HOSTILE:
        answer(s.request(A, "tools/call", sid="s-1", params={"name": name}),
               {"content": [], "structuredContent": {"s": "a" * 40 + "!", "x": 1}})
    answer(s.request(A, "tools/call", sid="s-1", params={"name": "count"}), {"content": [], "structuredContent": {"count": "3"}})
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(s.jsonl())
    start = time.monotonic()
    r = run("analyze", str(path), "-f", "json")
    assert time.monotonic() - start < 30
    found = [f for f in json.loads(r.output)["findings"] if f["rule"] == "tool-result-schema-mismatch"]
    assert [(f["count"], f["detail"]) for f in found] == [(1, PATH)]  # only the tool whose schema could be applied
    reasons = {n["reason"] for n in json.loads(r.output)["not_judged"]}
    assert reasons == {"outputSchema pattern that may backtrack without end", "outputSchema nested deeper than 32",
                       "outputSchema has a $ref that does not resolve inside it", "outputSchema is not a valid schema",
                       "outputSchema over 64 KiB"}, reasons


def test_cut_bodies_are_not_judged(tmp_path):
    """A tools/list answer that was cut at capture offers unknown tools; a cut tools/call result
    holds unknown content: neither is a finding."""
    s = Scenario()
    s.initialize(A, sid="s-1")
    s.notify(A, sid="s-1")
    lst = s.request(A, "tools/list", sid="s-1")
    lst["resp"]["body"].update(rpc=None, truncated=True)
    s.request(A, "tools/call", sid="s-1", params={"name": "anything"})
    full = answer(s.request(A, "tools/list", sid="s-1"),
                  {"tools": [{"name": "count", "inputSchema": {}, "outputSchema": {"type": "object", "required": ["count"]}}]})
    assert full
    cut = answer(s.request(A, "tools/call", sid="s-1", params={"name": "count"}), {"content": []})
    cut["resp"]["body"].update(rpc=None, truncated=True)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(s.jsonl())
    rules = {f["rule"] for f in json.loads(run("analyze", str(path), "-f", "json").output)["findings"]}
    assert not rules & {"unknown-tool-called", "tool-result-schema-mismatch"}
