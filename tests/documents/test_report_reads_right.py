"""The report reads right (issue 23): a golden of the seed recording's report, and the rules it
keeps -- pseudonyms in order of appearance without gaps, a server finding's evidence showing the
response's session id, findings nested under "Findings", plain sentences."""

from __future__ import annotations

import os
import re
from pathlib import Path

from typer.testing import CliRunner

from mcpsniff.cli import app
from mcpsniff.documents import report as rep
from mcpsniff.documents.analysis import analyze
from mcpsniff.render import report_md
from synth import Scenario

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed-two-planes.jsonl"
GOLDEN = Path(__file__).with_name("golden") / "seed-two-planes.report.md"
runner = CliRunner()


def normalised(md: str) -> str:
    """The report without what depends on the machine that ran it (tool versions)."""
    md = re.sub(r"^mitmproxy: {7}\S+ \(analysis\)", "mitmproxy:       X (analysis)", md, flags=re.M)
    return re.sub(r"^python: {10}\S+", "python:          X", md, flags=re.M)


def test_the_seed_report_matches_its_golden():
    r = runner.invoke(app, ["report", str(SEED)])
    assert r.exit_code == 0, r.stderr
    got = normalised(r.stdout)
    if os.environ.get("MCPSNIFF_UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()


def test_headings_nest():
    md = GOLDEN.read_text()
    heads = re.findall(r"^(#+) (.*)$", md, re.M)
    assert heads[0] == ("##", "MCP session report: 1 plane breaks the transport rules")
    sections = [t for h, t in heads if h == "###"]
    assert sections == ["Sequence", "Findings", "Planes", "Environment"]
    findings = heads[[t for _, t in heads].index("Findings") + 1:[t for _, t in heads].index("Planes")]
    assert [h for h, _ in findings] == ["####"] * 3
    # no level is skipped anywhere
    levels = [len(h) for h, _ in heads]
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:]))


def test_sentences_read_plainly():
    md = GOLDEN.read_text()
    assert ("Without the session header, only other values can tie this plane's requests to a session: "
            "its 5 requests came on 2 client connections.") in md
    assert ("Latency of this plane's requests in milliseconds: *end* runs from the start of a request to the end of its "
            "response (for the requests that got one), *first event* from the start of a request to its first "
            "Server-Sent Event (for the requests answered with a stream).") in md
    assert "Latency: Milliseconds" not in md and "tied by" not in md


def _server_refusals(n_refused: int) -> Scenario:
    """A plane that echoes, one refused 7 times by a server that hands out a new id on every
    refusal, then a third plane that opens a session."""
    s = Scenario()
    s.initialize("first/1", sid="first-session-1")
    s.request("first/1", "tools/list", sid="first-session-1")
    for i in range(n_refused):
        s.request("refused/1", "tools/call", sid=None, status=400, resp_headers=[("Mcp-Session-Id", f"refusal-id-{i:04d}")])
    s.initialize("late/1", sid="late-session-99")
    s.request("late/1", "tools/list", sid="late-session-99")
    return s


def test_pseudonyms_follow_appearance_without_gaps(tmp_path):
    p = tmp_path / "cap.jsonl"
    p.write_bytes(_server_refusals(7).jsonl())
    doc = rep.build(analyze([str(p)]))
    md = report_md.fit(doc)[0]
    names = sorted(set(re.findall(r"session-([A-Z]+)\b", md)), key=lambda x: (len(x), x))
    # the report shows 5 evidence rows of the server's refusals: 2 refusal ids are shown nowhere
    assert names == [rep.letters(i) for i in range(len(names))]
    assert len(names) == 1 + 5 + 1
    # the late plane's session is the next letter after the ids shown before it
    assert "Mcp-Session-Id: session-G" in md
    assert not re.search(r"refusal-id|first-session|late-session", md)


def test_a_server_finding_shows_the_response_session_id(tmp_path):
    p = tmp_path / "cap.jsonl"
    p.write_bytes(_server_refusals(2).jsonl())
    doc = rep.build(analyze([str(p)]))
    f = next(f for f in doc["findings"] if f["rule"] == "session-id-outside-initialize")
    assert [(e["session_id"], e["response_session_id"]) for e in f["evidence"]] == [(None, "session-B"), (None, "session-C")]
    md = report_md.fit(doc)[0]
    block = md.split("`session-id-outside-initialize`", 1)[1].split("####", 1)[0]
    assert "| time | plane | method | status | Mcp-Session-Id (response) | request headers |" in block
    assert [row.split(" | ")[4] for row in block.splitlines() if row.startswith("| 20")] == ["`session-B`", "`session-C`"]


def test_no_response_reads_as_words(tmp_path):
    s = Scenario()
    s.initialize("c/1", sid="s-000001")
    s.request("c/1", "tools/call", sid="s-000001")
    s.exchange("c/1", headers=s.mcp_headers("s-000001", "2025-11-25"),
               rpc=[{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {}}], status=None, error="Client disconnected.")
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    table = runner.invoke(app, ["analyze", str(p)], env={"COLUMNS": "200"}).stdout
    assert "no response x1, 200 x1" in table and "nonex" not in table
    md = runner.invoke(app, ["report", str(p)]).stdout
    assert "| `tools/call` | 2 | 2 | 0 | no response ×1, 200 ×1 |" in md
