"""`mcpsniff report`: the seed story, pseudonyms, secrets, mermaid validity, size budget."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcpsniff.documents import report as rep
from mcpsniff.documents.analysis import analyze
from mcpsniff.render import mermaid, report_md
from mcpsniff.cli import app
from synth import Scenario, seed_scenario

TOOL, CTRL = "openai-mcp/1.0.0", "openai-mcp/1.0.0 (ChatGPT)"
MERMAID_DIR = Path(__file__).resolve().parents[1] / "tools" / "mermaid"
runner = CliRunner()


APP = app


def fit(a, **kw):
    """The report Markdown of an analysis, fitted to the budget, and the level used."""
    return report_md.fit(rep.build(a), **kw)


def invoke(*args: str):
    return runner.invoke(APP, list(args))


def write(tmp_path: Path, s: Scenario, name: str = "cap.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(s.jsonl())
    return p


@pytest.fixture
def seed(tmp_path):
    return write(tmp_path, seed_scenario(tool_calls=3), "seed.jsonl")


def mermaid_blocks(md: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", md, re.S)


def aliases(diagram: str) -> dict[str, str]:
    """UA (unescaped from the label) -> participant alias."""
    out = {}
    for alias, label in re.findall(r"^    participant (P\d+) as (.*)$", diagram, re.M):
        ua = label.split("<br/>UA#58; ", 1)[-1]
        out[re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), ua)] = alias
    return out


# ---------------------------------------------------------------- strict subset check (always runs)

LINE_RES = [
    re.compile(r"^sequenceDiagram$"),
    re.compile(r"^    participant (P\d+|Server) as [^;#\n]*(#\d+;[^;#\n]*)*$"),
    re.compile(r"^    (P\d+)->>Server: [^;#\n]*(#\d+;[^;#\n]*)* (✅|❌)$"),
    re.compile(r"^    Server(-->>|--x)(P\d+): [^;#\n]*(#\d+;[^;#\n]*)*$"),
    re.compile(r"^    Note over (P\d+),Server: [^;#\n]*(#\d+;[^;#\n]*)*$"),
]


def check_subset(diagram: str) -> None:
    """Every line is one of the statement forms we emit; ';' and '#' only as entity codes; aliases declared."""
    lines = diagram.rstrip("\n").split("\n")
    declared = set()
    for ln in lines:
        m = next((rx.match(ln) for rx in LINE_RES if rx.match(ln)), None)
        assert m is not None, f"line outside the emitted subset: {ln!r}"
        if "participant" in ln:
            declared.add(ln.split()[1])
        else:
            for a in re.findall(r"\b(P\d+)\b", ln.split(":", 1)[0]):
                assert a in declared, f"undeclared participant {a} in {ln!r}"
    assert lines[0] == "sequenceDiagram" and "Server" in declared


def mermaid_parse(texts: list[str]) -> list[dict]:
    """Results of the real mermaid parser (tests/tools/mermaid); skips when it is not installed."""
    if shutil.which("node") is None or not (MERMAID_DIR / "node_modules" / "mermaid").is_dir():
        pytest.skip("mermaid parser not installed (cd tests/tools/mermaid && npm ci)")
    r = subprocess.run(["node", "parse.mjs"], input=json.dumps(texts), capture_output=True, text=True, cwd=MERMAID_DIR, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ---------------------------------------------------------------- the seed story


def test_seed_report_tells_the_seed_story(seed):
    r = invoke("report", str(seed))
    assert r.exit_code == 0, r.output
    md = r.stdout
    (diagram,) = mermaid_blocks(md)
    check_subset(diagram)
    al = aliases(diagram)
    assert set(al) == {CTRL, TOOL}
    c, t = al[CTRL], al[TOOL]
    ctrl_reqs = re.findall(rf"^    {c}->>Server: (.*)$", diagram, re.M)
    tool_reqs = re.findall(rf"^    {t}->>Server: (.*)$", diagram, re.M)
    assert ctrl_reqs == [
        "POST initialize ✅",
        "POST notifications/initialized (Mcp-Session-Id: session-A) ✅",
        "POST tools/list (Mcp-Session-Id: session-A) ✅",
        "POST resources/read (Mcp-Session-Id: session-A) ✅",
    ]
    assert tool_reqs == [
        "POST initialize ✅",
        "POST notifications/initialized (Mcp-Session-Id: session-B) ✅",
        "POST tools/call ×3 (no Mcp-Session-Id) ❌",
    ]
    assert f"    Server-->>{c}: 200, Mcp-Session-Id: session-A" in diagram
    assert f"    Server-->>{t}: 200, Mcp-Session-Id: session-B" in diagram
    assert f"    Server-->>{t}: 400 ×3" in diagram  # the server's reply stays on the return arrow
    # the finding cites the 2025-11-25 session rule
    assert "(`session-id-dropped`)" in md
    assert "MUST include it in the MCP-Session-Id header on all of their subsequent HTTP requests" in md
    assert "[Streamable HTTP / Session Management](https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management)" in md
    # summary names the failing plane and the clean one
    summary = md.split("\n")[2]
    assert f"plane `{TOOL}`" in summary and "Client dropped the Mcp-Session-Id header" in summary
    assert f"`{CTRL}` echoed its session id on 3 of 3 requests" in summary
    # evidence table: time, plane, method, status, headers present
    assert "| 2025-10-09T08:53:20.350Z | 2 | `POST tools/call` | 400 | (none) | host, user-agent, accept, content-type, mcp-protocol-version |" in md
    # environment block
    assert re.search(r"mcpsniff: +0\.\d+\.\d+", md) and re.search(r"mitmproxy: +\d+\.\d+", md)
    assert "inputs:          seed.jsonl (jsonl, 9 exchanges)" in md
    assert "spec versions:   2025-11-25" in md
    # no real session id anywhere
    assert "ctrl-aaa" not in md and "tool-bbb" not in md
    assert "### Left out" not in md  # nothing was folded away


def test_seed_mermaid_parses_with_real_mermaid(seed):
    text, _ = fit(analyze([str(seed)]))
    (diagram,) = mermaid_blocks(text)
    broken = diagram.replace("->>Server: POST tools/list", "->>: POST tools/list", 1)
    res = mermaid_parse([diagram, broken, "sequenceDiagram\n    participant A as x;y\n    A->>A hi\n"])
    assert res[0] == {"ok": True, "type": "sequence"}
    assert not res[1]["ok"] and not res[2]["ok"]  # the parser truly rejects broken diagrams


def test_raw_ids_keeps_session_ids(seed):
    r = invoke("report", str(seed), "--raw-ids")
    assert r.exit_code == 0
    assert "(Mcp-Session-Id: ctrl-aaa) ✅" in r.stdout and "Mcp-Session-Id: tool-bbb" in r.stdout
    assert "session-A" not in r.stdout
    assert "session ids:     raw" in r.stdout


def test_json_report(seed):
    r = invoke("report", str(seed), "--format", "json")
    assert r.exit_code == 0, r.output
    assert "ctrl-aaa" not in r.stdout and "tool-bbb" not in r.stdout
    doc = json.loads(r.stdout)
    assert doc["mcpsniff"]["report"] == rep.REPORT_VERSION and doc["mcpsniff"]["document"] == 1
    assert doc["session_ids"] == "pseudonymised"
    assert {p["user_agent"] for p in doc["planes"]} == {CTRL, TOOL}
    steps = [s for s in doc["diagram"]["steps"] if s["plane"] == TOOL]
    assert [(s["method"], s["count"], s["mark"], s["session_header"], s["statuses"]) for s in steps] == [
        ("initialize", 1, "ok", None, {"200": 1}),
        ("notifications/initialized", 1, "ok", "sent", {"202": 1}),
        ("tools/call", 3, "error", "missing", {"400": 3}),
    ]
    assert steps[0]["issued"] == "session-B"
    f = doc["findings"][0]
    assert [x["rule"] for x in doc["findings"]] == ["session-id-dropped", "requests-refused"]
    assert f["rule"] == "session-id-dropped" and f["spec"]["version"] == "2025-11-25"
    ev = doc["findings"][0]["evidence"]
    assert [e["session_id"] for e in ev] == [None, None, None]


def test_output_file_and_errors(seed, tmp_path):
    out = tmp_path / "report.md"
    r = invoke("report", str(seed), "-o", str(out))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert out.read_text().startswith("## MCP session report: 1 plane breaks the transport rules")
    r = invoke("report", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2
    assert r.stderr == f"error: {tmp_path / 'missing.jsonl'}: no such file\n"
    r = invoke("report", str(seed), "-o", str(tmp_path / "no" / "dir" / "r.md"))  # the folders are made
    assert r.exit_code == 0 and (tmp_path / "no" / "dir" / "r.md").read_text() == out.read_text()
    (tmp_path / "plain").write_text("x")
    r = invoke("report", str(seed), "-o", str(tmp_path / "plain" / "r.md"))
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'plain' / 'r.md'}: cannot write: {tmp_path / 'plain'} is a file, not a folder\n"
    r = invoke("report", str(seed), "--format", "html")
    assert r.exit_code == 2


# ---------------------------------------------------------------- pseudonyms and secrets


def test_letters():
    assert [rep.letters(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]


def test_pseudonyms_in_order_of_first_appearance(tmp_path):
    s = Scenario()
    ids = [f"real-session-{i:04d}" for i in range(30)]
    for sid in ids:
        s.initialize("c/1", sid=sid)
        s.request("c/1", "tools/list", sid=sid)
    s.request("c/1", "tools/list", sid="never-issued-id-xyz")  # carried but never issued: named too
    a = analyze([str(write(tmp_path, s))])
    ps = rep.Pseudonyms(a.model.session_id_order())
    assert [ps.name(i) for i in ids[:3]] == ["session-A", "session-B", "session-C"]
    assert ps.name(ids[26]) == "session-AA" and ps.name(ids[29]) == "session-AD"
    assert ps.name("never-issued-id-xyz") == "session-AE"
    assert ps.text(f"closed {ids[5]} early") == "closed session-F early"
    text, _ = fit(a)
    assert "real-session-" not in text and "never-issued-id-xyz" not in text
    assert "(Mcp-Session-Id: session-AE) ✅" in text


def test_no_secrets_and_redaction_markers_stay(tmp_path):
    s = Scenario()
    ua = "agent/2 <redacted:deadbeef>"
    s.initialize(ua, sid="sess-0123456789abcdef", client=("<redacted:0badf00d>", "1"))
    s.request(ua, "tools/list", sid="sess-0123456789abcdef", extra_headers=[("Authorization", "Bearer sk-live-TOPSECRET")])
    s.request(ua, "tools/call", sid=None, params={"name": "x", "api_key": "sk-live-TOPSECRET"})
    s.exchange(ua, headers=[("Mcp-Session-Id", "sess-0123456789abcdef")], status=None,
               rpc=[{"jsonrpc": "2.0", "id": 99, "method": "tools/call"}], error="peer reset while sess-0123456789abcdef was open")
    a = analyze([str(write(tmp_path, s))])
    text, lim0 = fit(a)
    blob = text + json.dumps(rep.build(a))
    assert "TOPSECRET" not in blob
    assert "sess-0123456789abcdef" not in blob
    assert "peer reset while session-A was open" in text  # free text is scrubbed, not dropped
    assert "`<redacted:0badf00d>/1`" in text  # markers stay visible and stay markers
    assert f"`{ua}`" in text
    (diagram,) = mermaid_blocks(text)
    check_subset(diagram)
    assert "Server--xP1: no response" in diagram


# ---------------------------------------------------------------- mermaid: arbitrary user agents

NASTY = [
    "ua; with semicolon", "ua # hash", "ua %% comment", "a-->>b: c", "x->>y", "end", "participant P1 as P2",
    "Note over P1,Server: gotcha", "back`tick`", "<b>bold</b>&amp;", "line\u2028sep", "tab\there", "  lead/trail  ",
    "UA (parens) [brackets] {braces}", "colon: comma, dash-", "trailing-", "--", "emoji 🤖 ×", "quote \"dq\" 'sq'",
    "unicode ünïcødé 中文", "a" * 300, "", "#59;", "\\backslash", "semi;colon;#hash#;%%",
]


def test_arbitrary_user_agents_make_valid_mermaid(tmp_path):
    rnd = random.Random(4)
    alphabet = "abc XYZ019;#%:,-><()[]{}|`'\"&/\\=+*!?@~^$.\t" + "é中🤖"
    uas = NASTY + ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(40)]
    diagrams = []
    for chunk in (uas[i : i + 8] for i in range(0, len(uas), 8)):
        s = Scenario()
        for i, ua in enumerate(chunk):
            s.initialize(ua, sid=f"s{i}", client=(ua[:20] or "c", "1;#2"))
            s.request(ua, "tools/call", sid=None, params={"name": "t"})
        a = analyze([str(write(tmp_path, s))])
        doc = rep.build(a)
        text = mermaid.render(doc["diagram"])
        check_subset(text)
        assert len(doc["diagram"]["participants"]) == len({p["user_agent"] for p in doc["planes"]})
        diagrams.append(text)
    res = mermaid_parse(diagrams)
    assert all(r["ok"] for r in res), [(d, r) for d, r in zip(diagrams, res) if not r["ok"]][:1]


def test_text_escapes_everything_outside_the_safe_set():
    assert mermaid.text("a;b#c%d") == "a#59;b#35;c#37;d"
    assert mermaid.text("x-->y") == "x#45;#45;#62;y"
    assert mermaid.text("one:two, three", message=True) == "one:two, three"
    assert mermaid.text("one:two") == "one#58;two"


# ---------------------------------------------------------------- size budget


def big_capture(n: int, planes: int = 40, ua_len: int = 0) -> Scenario:
    s = Scenario(step=0.001)
    uas = [f"client-{i}/1.{i} (x; #{i})" + "z" * ua_len for i in range(planes)]
    k = 0
    while len(s.records) < n:
        for i, ua in enumerate(uas):
            sid = f"sid-{k:08d}-{i}"
            k += 1
            s.initialize(ua, sid=sid)
            s.notify(ua, sid=sid)
            for j in range(20):
                drop = i % 3 == 0 and j % 2 == 0
                s.request(ua, "tools/call" if j % 4 else "tools/list", sid=None if drop else sid, status=400 if drop else 200)
            if len(s.records) >= n:
                break
    return s


@pytest.mark.slow
def test_report_of_100k_exchanges_stays_under_github_limit(tmp_path):
    p = write(tmp_path, big_capture(100_000), "big.jsonl")
    r = invoke("report", str(p))
    assert r.exit_code == 0, r.stderr
    md = r.stdout
    assert len(md) < report_md.GITHUB_LIMIT
    assert "100,0" in md.split("\n")[2]  # the summary counts every exchange
    left = md.split("### Left out", 1)[1]
    assert re.search(r"32 planes \([\d,]+ requests\) are not in the diagram", left)
    assert re.search(r"the diagram leaves out [\d,]+ requests", left)
    assert re.search(r"evidence tables show the first \d exchanges? per finding \([\d,]+ more exist\)", left)
    assert "sid-0" not in md
    (diagram,) = mermaid_blocks(md)
    check_subset(diagram)
    assert diagram.count("->>Server:") <= rep.DETAIL["steps"] + rep.DETAIL["planes"]
    assert "❌" in diagram and re.search(r"more requests? of this plane not shown", diagram)
    assert mermaid_parse([diagram])[0]["ok"]


def test_many_planes_with_huge_user_agents_fold_down(tmp_path):
    a = analyze([str(write(tmp_path, big_capture(6_000, planes=250, ua_len=3000)))])
    text, lim0 = fit(a)
    assert len(text) <= report_md.DEFAULT_BUDGET
    assert "more planes" in text and "### Left out" in text
    assert "z" * 200 not in text  # user agents are cut
    check_subset(mermaid_blocks(text)[0])
    # a tighter budget walks down the levels, and the report says what it left out
    small, lim = fit(a, budget=15_000)
    assert len(small) <= 15_000 and "report cut at" not in small
    assert lim in report_md.LEVELS[1:]
    assert f"evidence tables show the first {lim.evidence} exchange{'s' if lim.evidence != 1 else ''} per finding" in small
    assert re.search(r"\d+ findings? (is|are) listed by title only", small)
    assert small.count("->>Server:") <= rep.DETAIL["steps"] + lim.planes


def test_hard_cut_when_nothing_fits(seed):
    text, _ = fit(analyze([str(seed)]), budget=500)
    assert len(text) <= 500 and text.rstrip().endswith("for everything.")


def test_pseudonyms_scrub_text_as_one_alternation_of_all_ids_would():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    alphabet = "ab1-_.:/"
    # ids of scrubbable length, some the prefix or suffix of another (longest first must win)
    ids_st = st.lists(st.text(alphabet, min_size=6, max_size=12), min_size=1, max_size=6, unique=True).flatmap(
        lambda base: st.lists(st.sampled_from(base).flatmap(
            lambda b: st.sampled_from([b, b + "ab", "1-" + b, b[: max(len(b) - 2, 1)]])), max_size=10).map(
            lambda more: list(dict.fromkeys(base + more))))

    @settings(max_examples=300, deadline=None)
    @given(ids_st, st.lists(st.one_of(st.text(alphabet + " ,x", max_size=6), st.sampled_from(["<", ">"])), max_size=12),
           st.data())
    def check(ids, pieces, data):
        ps = rep.Pseudonyms(ids)
        # text built from pieces and some of the ids, glued without separators too
        parts = [data.draw(st.sampled_from(ids)) if ids and data.draw(st.booleans()) else p for p in pieces]
        text = "".join(parts)
        long_ids = sorted((s for s in ps.map if len(s) >= rep.MIN_SCRUB_LEN), key=len, reverse=True)
        expected = text if text in ps.map else (
            re.sub("|".join(map(re.escape, long_ids)), lambda m: ps.map[m.group(0)], text) if long_ids else text)
        if text in ps.map:
            expected = ps.map[text]
        assert ps.text(text) == expected

    check()
