"""Declared facts: helper tables built once per Model, on first request; an empty one is None."""

from __future__ import annotations

from mcpsniff import model
from mcpsniff.model import facts
from synth import Scenario

A = "client-a/1"


def test_a_fact_is_built_once_on_first_request_and_holds_its_rows():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"})
    m = model.from_records(s.records)

    def tables() -> list[str]:
        return [t for (t,) in m.rows("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'fact_%'")]

    assert tables() == []  # nothing is built before a rule asks
    table = facts.table(m, facts.MCP_NAME_MISMATCH)
    assert table is not None and facts.table(m, facts.MCP_NAME_MISMATCH) == table
    assert tables() == [table]


def test_an_empty_fact_is_none():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"})
    m = model.from_records(s.records)
    assert facts.table(m, facts.MCP_NAME_MISMATCH) is None


def test_a_fact_with_a_python_test_keeps_only_the_rows_that_pass():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "=?base64?ZWNobw==?="})  # "echo", encoded
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"})
    m = model.from_records(s.records)
    table = facts.table(m, facts.MCP_NAME_MISMATCH)
    assert m.rows(f"SELECT hdr, name FROM {table}") == [("other", "echo")]
