"""`mcpsniff diff`: captures before/after (exit 1 when a plane got worse) and plane vs plane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synth import Scenario, seed_scenario

from mcpsniff.cli import app

TOOL, CTRL = "openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"
runner = CliRunner()


APP = app


def invoke(*args: str):
    return runner.invoke(APP, list(args))


def capture(
    tmp_path: Path, name: str, *, ctrl_drops: int = 0, tool_drops: int = 3, extra_plane: str | None = None, extra_drops: bool = False,
    extra_client: tuple[str, str] = ("test-client", "1.0"),
) -> Path:
    """CTRL and TOOL planes; each drops its session id on the first N of 4 tool calls."""
    s = Scenario()
    for ua, sid, drops in ((CTRL, "ctrl-aaa", ctrl_drops), (TOOL, "tool-bbb", tool_drops)):
        s.initialize(ua, sid=sid, client=("openai-mcp", "1.0.0"))
        s.notify(ua, sid=sid)
        s.request(ua, "tools/list", sid=sid)
        for i in range(4):
            s.request(ua, "tools/call", sid=None if i < drops else sid, params={"name": "poll"})
    if extra_plane:
        s.initialize(extra_plane, sid="x-1", client=extra_client)
        s.request(extra_plane, "tools/list", sid=None if extra_drops else "x-1", status=400 if extra_drops else 200)
    p = tmp_path / name
    p.write_bytes(s.jsonl())
    return p


def test_plane_that_went_from_echoing_to_dropping_is_worse(tmp_path):
    before = capture(tmp_path, "before.jsonl", ctrl_drops=0)
    after = capture(tmp_path, "after.jsonl", ctrl_drops=2)
    r = invoke("diff", str(before), str(after), "--format", "json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["mcpsniff"]["diff"] == 2 and doc["mode"] == "captures"
    assert doc["worse"] == [CTRL]
    planes = {p["user_agent"]: p for p in doc["planes"]}
    assert planes[CTRL]["change"] == "worse" and planes[TOOL]["change"] == "unchanged"
    assert planes[CTRL]["reasons"] == [
        {"kind": "new-error", "rule": "session-id-dropped"},
        {"kind": "drop-rate", "method": "tools/call", "before": 0.0, "after": 0.5},
    ]
    call = next(m for m in planes[CTRL]["methods"] if m["method"] == "tools/call")
    assert (call["before"]["drop_rate"], call["after"]["drop_rate"], call["change"]) == (0.0, 0.5, "worse")
    assert [f["rule"] for f in planes[CTRL]["findings"]["new"]] == ["missing-session-accepted", "session-id-dropped"]
    assert [f["rule"] for f in planes[TOOL]["findings"]["unchanged"]] == ["missing-session-accepted", "session-id-dropped"]
    # the same verdict in the other views
    r = invoke("diff", str(before), str(after), "--format", "markdown")
    assert r.exit_code == 1
    assert f"**Worse:** `{CTRL}`" in r.stdout
    assert "| `tools/call` | 0% (0/4) | 50% (2/4) | worse |" in r.stdout
    r = invoke("diff", str(before), str(after))
    assert r.exit_code == 1 and f"worse: {CTRL}" in r.stdout


def test_identical_captures_report_no_change(tmp_path):
    p = capture(tmp_path, "a.jsonl")
    q = tmp_path / "b.jsonl"
    q.write_bytes(p.read_bytes())
    for fmt in ("json", "markdown", "table"):
        r = invoke("diff", str(p), str(q), "--format", fmt)
        assert r.exit_code == 0, r.output
        if fmt == "json":
            doc = json.loads(r.stdout)
            assert doc["changed"] is False and doc["worse"] == []
            assert {p["change"] for p in doc["planes"]} == {"unchanged"}
            assert all(not p["findings"]["new"] and not p["findings"]["fixed"] for p in doc["planes"])
        elif fmt == "markdown":
            assert "No change: every plane has the same requests, drop rates and findings." in r.stdout
        else:
            assert r.stdout.rstrip().endswith("no change")


def test_higher_drop_rate_alone_is_worse(tmp_path):
    before = capture(tmp_path, "before.jsonl", tool_drops=1)
    after = capture(tmp_path, "after.jsonl", tool_drops=3)
    r = invoke("diff", str(before), str(after), "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    (tool,) = [p for p in doc["planes"] if p["worse"]]
    assert tool["user_agent"] == TOOL
    assert tool["reasons"] == [{"kind": "drop-rate", "method": "tools/call", "before": 0.25, "after": 0.75}]  # same findings, higher rate
    assert tool["findings"]["new"] == []


def test_fixed_plane_and_appeared_vanished_planes(tmp_path):
    before = capture(tmp_path, "before.jsonl", tool_drops=3, extra_plane="old-client/1", extra_client=("old", "1"))
    after = capture(tmp_path, "after.jsonl", tool_drops=0, extra_plane="new-client/2", extra_client=("new", "2"))
    r = invoke("diff", str(before), str(after), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    planes = {p["user_agent"]: p for p in doc["planes"]}
    assert planes["old-client/1"]["change"] == "vanished" and planes["old-client/1"]["after"] is None
    assert planes["new-client/2"]["change"] == "appeared" and planes["new-client/2"]["before"] is None
    assert planes[TOOL]["change"] == "better"
    assert [f["rule"] for f in planes[TOOL]["findings"]["fixed"]] == ["missing-session-accepted", "session-id-dropped"]
    assert doc["changed"] is True and doc["worse"] == []


def test_appeared_plane_with_an_error_is_worse(tmp_path):
    before = capture(tmp_path, "before.jsonl", tool_drops=0)
    after = capture(tmp_path, "after.jsonl", tool_drops=0, extra_plane="bad/1", extra_drops=True)
    r = invoke("diff", str(before), str(after), "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["worse"] == ["bad/1"]
    bad = {p["user_agent"]: p for p in doc["planes"]}["bad/1"]
    assert bad["change"] == "appeared" and bad["reasons"][0] == {"kind": "new-error", "rule": "session-id-dropped"}


def _httpx_capture(tmp_path: Path, name: str, ua: str, *, drops: int, others: list[tuple[str, tuple[str, str]]] = ()) -> Path:
    s = Scenario()
    s.initialize(ua, sid="h-1", client=("mcp", "1.9.0"))
    s.notify(ua, sid="h-1")
    for i in range(3):
        s.request(ua, "tools/call", sid=None if i < drops else "h-1", status=400 if i < drops else 200)
    for j, (other, client) in enumerate(others):
        s.initialize(other, sid=f"o-{j}", client=client)
        s.request(other, "tools/list", sid=f"o-{j}")
    p = tmp_path / name
    p.write_bytes(s.jsonl())
    return p


def test_an_upgraded_client_is_compared_with_its_former_version(tmp_path):
    before = _httpx_capture(tmp_path, "before.jsonl", "python-httpx/0.28.1", drops=0)
    after = _httpx_capture(tmp_path, "after.jsonl", "python-httpx/0.29.0", drops=2)
    r = invoke("diff", str(before), str(after), "--format", "json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    [p] = doc["planes"]
    assert (p["user_agent"], p["user_agent_before"], p["change"]) == ("python-httpx/0.29.0", "python-httpx/0.28.1", "worse")
    assert p["upgrade"] == {"by": "version", "name": "python-httpx", "before": "0.28.1", "after": "0.29.0"}
    assert [f["rule"] for f in p["findings"]["new"]] == ["session-id-dropped"]
    assert doc["worse"] == ["python-httpx/0.29.0"]
    table = runner.invoke(APP, ["diff", str(before), str(after)], env={"COLUMNS": "200"})
    assert "│ python-httpx 0.28.1 -> 0.29.0 │ worse" in table.stdout
    assert "vanished" not in table.stdout and "appeared" not in table.stdout
    md = invoke("diff", str(before), str(after), "--format", "markdown").stdout
    assert "| `python-httpx 0.28.1 -> 0.29.0` | ❌ worse | 5 → 5 | ok → fail |" in md


def test_planes_sharing_a_client_info_name_are_paired(tmp_path):
    before = _httpx_capture(tmp_path, "before.jsonl", "python-httpx/0.28.1", drops=0, others=[("node", ("claude-code", "1.0.40"))])
    after = _httpx_capture(tmp_path, "after.jsonl", "python-httpx/0.28.1", drops=0, others=[("undici", ("claude-code", "1.0.41"))])
    doc = json.loads(invoke("diff", str(before), str(after), "--format", "json").stdout)
    planes = {p["user_agent"]: p for p in doc["planes"]}
    assert set(planes) == {"python-httpx/0.28.1", "undici"}
    assert planes["undici"]["upgrade"] == {"by": "client_info", "name": "claude-code", "before": "1.0.40", "after": "1.0.41"}
    assert planes["python-httpx/0.28.1"]["upgrade"] is None
    md = invoke("diff", str(before), str(after), "--format", "markdown").stdout
    assert "`claude-code 1.0.40 -> 1.0.41 (node -> undici)`" in md


@pytest.mark.parametrize("b_ua, a_uas", [
    ("python-httpx/0.28.1", ["python-requests/2.32.0"]),          # another product, not an upgrade
    ("python-httpx/0.28.1", ["python-httpx/0.29.0", "python-httpx/0.30.0"]),  # two candidates: ambiguous
    ("openai-mcp/1.0.0", ["openai-mcp/1.0.0 (ChatGPT)"]),         # a different plane of the same client
])
def test_near_misses_stay_appeared_and_vanished(tmp_path, b_ua, a_uas):
    before = _httpx_capture(tmp_path, "before.jsonl", b_ua, drops=0)
    s = Scenario()
    for j, ua in enumerate(a_uas):
        s.initialize(ua, sid=f"a-{j}", client=(f"other-{j}", "1"))
        s.request(ua, "tools/list", sid=f"a-{j}")
    after = tmp_path / "after.jsonl"
    after.write_bytes(s.jsonl())
    doc = json.loads(invoke("diff", str(before), str(after), "--format", "json").stdout)
    changes = {p["user_agent"]: p["change"] for p in doc["planes"]}
    assert changes == {b_ua: "vanished", **{u: "appeared" for u in a_uas}}
    assert all(p["upgrade"] is None for p in doc["planes"])


def test_diff_usage_and_input_errors(tmp_path):
    p = capture(tmp_path, "a.jsonl")
    r = invoke("diff", str(p))
    assert r.exit_code == 2
    assert r.stderr == "error: diff needs exactly two captures (BEFORE AFTER), got 1; use --planes A B to compare planes of one capture\n"
    r = invoke("diff", str(p), str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'nope.jsonl'}: no such file\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = invoke("diff", str(p), str(bad))
    assert r.exit_code == 2 and r.stderr.splitlines()[-1] == f"error: no exchanges to analyse in {bad}"


# ---------------------------------------------------------------- plane vs plane


@pytest.fixture
def seed(tmp_path):
    p = tmp_path / "seed.jsonl"
    p.write_bytes(seed_scenario(tool_calls=3).jsonl())
    return p


def test_planes_json(seed):
    r = invoke("diff", str(seed), "--planes", CTRL, TOOL, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["mode"] == "planes" and doc["mcpsniff"]["diff"] == 2
    a, b = doc["planes"]
    assert (a["user_agent"], b["user_agent"]) == (CTRL, TOOL)
    assert a["client_info"] == b["client_info"] == ["openai-mcp/1.0.0"]
    assert a["negotiated_versions"] == b["negotiated_versions"] == ["2025-11-25"]
    assert a["statuses"] == {"200": 3, "202": 1} and b["statuses"] == {"200": 1, "202": 1, "400": 3}
    assert a["findings"] == [] and b["findings"] == ["session-id-dropped", "requests-refused"]
    methods = {m["method"]: m for m in doc["methods"]}
    # CTRL sends Mcp-Session-Id on tools/list while TOOL omits it on tools/call
    assert methods["tools/list"]["a"]["headers"]["Mcp-Session-Id"] == {"count": 1, "presence": "all"}
    assert methods["tools/list"]["b"] is None
    assert "Mcp-Session-Id" not in methods["tools/call"]["b"]["headers"] and methods["tools/call"]["b"]["requests"] == 3
    hdr = {h["header"]: h for h in doc["headers"]}
    sid = hdr["Mcp-Session-Id"]
    assert sid["differs"] is True
    assert sid["a"]["sent_on"] == ["notifications/initialized", "resources/read", "tools/list"]
    assert sid["b"]["omitted_on"] == ["initialize", "tools/call"]
    assert hdr["Accept"]["differs"] is False
    assert set(doc["common_headers"]) == {"Accept", "Content-Type", "host", "User-Agent"}


def test_planes_markdown_and_table(seed):
    r = invoke("diff", str(seed), "--planes", CTRL, TOOL, "--format", "markdown")
    assert r.exit_code == 0
    assert "| `tools/call` | - | - | 3 | MCP-Protocol-Version |" in r.stdout
    assert "| `tools/list` | 1 | MCP-Protocol-Version, Mcp-Session-Id | - | - |" in r.stdout
    assert "| **Mcp-Session-Id** | 3/4: sent on notifications/initialized, resources/read, tools/list; omitted on initialize " in r.stdout
    assert "| statuses received | 200×3, 202×1 | 200×1, 202×1, 400×3 |" in r.stdout
    r = invoke("diff", str(seed), "--planes", CTRL, TOOL)
    assert r.exit_code == 0 and "Request headers" in r.stdout and "omitted on" in r.stdout


def test_unknown_plane_lists_the_planes(seed):
    r = invoke("diff", str(seed), "--planes", CTRL, "nope/1")
    assert r.exit_code == 2
    assert r.stderr == f"error: no plane with User-Agent 'nope/1'; planes: '{TOOL}', '{CTRL}'\n"
    r = invoke("diff", str(seed), "--planes", TOOL, TOOL)
    assert r.exit_code == 2 and r.stderr == "error: --planes needs two different planes\n"
    r = invoke("diff", str(seed), "--planes", TOOL)
    assert r.exit_code == 2
