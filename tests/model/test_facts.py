"""Declared facts: helper tables built once per Model, on first request; an empty one is None."""

from __future__ import annotations

from mcpsniff import model
from mcpsniff.model import facts
from synth import Scenario

A = "client-a/1"


def test_a_fact_is_built_once_on_first_request_and_holds_its_rows():
    s = Scenario()
    s.initialize(A, sid="s-1")
    s.request(A, "tools/list", sid="s-1")
    s.delete(A, sid="s-1", status=200)
    s.request(A, "tools/list", sid="s-1", status=404)
    m = model.from_records(s.records)

    def tables() -> list[str]:
        return [t for (t,) in m.rows("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'fact_%'")]

    assert tables() == []  # nothing is built before a rule asks
    table = facts.table(m, facts.SESSIONS_DELETED)
    assert table is not None and facts.table(m, facts.SESSIONS_DELETED) == table
    assert tables() == [table]
    assert m.rows(f"SELECT sid FROM {table}") == [("s-1",)]
    # the request after the accepted DELETE is "later than" it; the ones before are not
    later = facts.later_than(m, facts.SESSIONS_DELETED)
    assert [p for (p,) in m.rows(f"SELECT pos FROM m WHERE {later} ORDER BY pos")] == [3]


def test_an_empty_fact_is_none_and_its_condition_false():
    s = Scenario()
    s.initialize(A, sid="s-1")
    s.request(A, "tools/list", sid="s-1")
    m = model.from_records(s.records)
    assert facts.table(m, facts.SESSIONS_404) is None
    assert facts.later_than(m, facts.SESSIONS_404) == "FALSE"


def test_a_fact_with_a_python_test_keeps_only_the_rows_that_pass():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "=?base64?ZWNobw==?="})  # "echo", encoded
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"})
    m = model.from_records(s.records)
    table = facts.table(m, facts.MCP_NAME_MISMATCH)
    assert m.rows(f"SELECT hdr, name FROM {table}") == [("other", "echo")]
