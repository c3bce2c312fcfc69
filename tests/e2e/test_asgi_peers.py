"""The in-process recorder (MCPSniffMiddleware) around the real SDK servers, under real uvicorn and
Hypercorn, driven by the real SDK clients; the recordings are judged by `mcpsniff analyze`.

- the official Python and TypeScript clients against a wrapped SDK 1.x server: no error finding;
- the seed's two-plane client: the TOOL plane's session-id-dropped with the exact count;
- `mcpsniff capture` in front and the middleware behind, recording the same traffic at the same
  time: the same planes, sessions, echo counts and findings;
- the SDK 2.x server (its own venv, no mitmproxy) wrapped too;
- several uvicorn workers: one part file each, analysed together;
- a streamed tool call with 1 s gaps: the same timing at the client with and without the
  middleware, every event recorded;
- docs/record-in-process.md's server and commands, as written: `analyze` of the name the app was
  given reads every worker's file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import peerlib

pytestmark = pytest.mark.slow

SEED_TOOL_UA = "openai-mcp/1.0.0"
SEED_CTRL_UA = "openai-mcp/1.0.0 (ChatGPT)"


def parts(base: Path) -> list[Path]:
    """The part files the middleware wrote for `base` (one per server process, rotated parts too)."""
    stem = base.name[: -len(".jsonl")]
    return sorted(base.parent.glob(f"{stem}.pid*.jsonl"))


def records(files: list[Path]) -> tuple[list[dict], list[dict]]:
    metas, exs = [], []
    for f in files:
        for line in f.read_bytes().splitlines():
            rec = json.loads(line)
            (metas if rec["kind"] == "meta" else exs).append(rec)
    return metas, exs


def analyze(*files: Path) -> dict:
    run = subprocess.run([peerlib._python(), "-m", "mcpsniff", "analyze", *map(str, files), "--format", "json",
                          "--fail-on", "never"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def ok(run: peerlib.ClientRun) -> dict:
    assert run.returncode == 0, f"client failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert run.summary is not None and run.summary["ok"] is True, run.stdout
    return run.summary


def errors(doc: dict) -> list[tuple[str, str, str]]:
    return [(f["rule"], f["plane"], f["detail"]) for f in doc["findings"] if f["severity"] == "error"]


def rpc_methods(exs: list[dict]) -> list[str]:
    return [m["method"] for e in exs for m in (e["req"]["body"]["rpc"] or []) if "method" in m]


def header(pairs: list[list[str]], name: str) -> str | None:
    return next((v for n, v in pairs if n.lower() == name), None)


def planes_view(doc: dict) -> list[tuple]:
    return sorted((p["user_agent"], p["requests"], p["sessions_issued"], tuple(sorted(p["session_header"].items())),
                   p["era"], p["verdict"]) for p in doc["planes"])


def findings_view(doc: dict) -> list[tuple]:
    return sorted((f["rule"], f["severity"], f["plane"], f["count"]) for f in doc["findings"])


# -- SDK clients against a wrapped SDK 1.x server ------------------------------------------------------
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
@pytest.mark.parametrize("mode", ["stateful", "json"])
def test_sdk_clients_against_a_wrapped_server_record_a_clean_capture(tmp_path, server, mode):
    out = tmp_path / "cap.jsonl"
    with peerlib.py_server(mode, sniff=out, server=server) as url:
        py = ok(peerlib.run_py_client(url, calls=2))
        ts = ok(peerlib.run_ts_client(url, calls=2))
    files = parts(out)
    assert len(files) == 1
    metas, exs = records(files)
    assert metas[0]["recorder"] == "asgi" and metas[0]["server"].startswith(server + " ")
    assert "lost" not in metas[-1]
    assert all(e["error"] is None or e["error"] == "Client disconnected." for e in exs)
    assert rpc_methods(exs).count("tools/call") == py["calls"] + ts["calls"]
    assert rpc_methods(exs).count("initialize") == 2
    if mode == "stateful":  # ticks streamed its 3 progress + 3 log notifications, then the result
        ticks = [e for e in exs for m in (e["req"]["body"]["rpc"] or []) if m.get("params", {}).get("name") == "ticks"]
        assert len(ticks) == 2 and all(len(e["resp"]["sse"]) == 7 for e in ticks)
    doc = analyze(*files)
    assert errors(doc) == []
    assert {p["user_agent"].split("/")[0] for p in doc["planes"]} == {"python-httpx", "node"}
    assert all(p["verdict"] == "ok" and p["sessions_issued"] == 1 and p["session_header"]["dropped"] == 0
               for p in doc["planes"])


def test_legacy_sse_transport_through_the_middleware(tmp_path):
    out = tmp_path / "legacy.jsonl"
    with peerlib.py_server("legacy", sniff=out) as url:
        ok(peerlib.run_py_client(url, transport="sse", calls=2))
    _, exs = records(parts(out))
    [stream] = [e for e in exs if e["req"]["method"] == "GET"]
    assert stream["resp"]["sse"][0]["event"] == "endpoint"
    doc = analyze(*parts(out))
    assert errors(doc) == [] and {p["era"] for p in doc["planes"]} == {"legacy"}


def test_seed_client_gives_the_tool_planes_session_id_dropped_with_the_exact_count(tmp_path):
    out = tmp_path / "seed.jsonl"
    with peerlib.py_server("stateful", sniff=out) as url:
        seed = ok(peerlib.run_seed_client(url, tool_calls=3))
    assert seed["planes"]["tool"]["statuses"] == [200, 202, 400, 400, 400]
    doc = analyze(*parts(out))
    dropped = [f for f in doc["findings"] if f["rule"] == "session-id-dropped"]
    assert [(f["plane"], f["count"], f["by_method"]) for f in dropped] == [(SEED_TOOL_UA, 3, {"tools/call": 3})]
    assert [e for e in errors(doc) if e[0] != "session-id-dropped"] == []
    verdicts = {p["user_agent"]: p["verdict"] for p in doc["planes"]}
    assert verdicts == {SEED_CTRL_UA: "ok", SEED_TOOL_UA: "fail"}


# -- the proxy in front, the middleware behind ----------------------------------------------------------
def test_proxy_in_front_and_middleware_behind_record_the_same_session(tmp_path):
    behind = tmp_path / "behind.jsonl"
    front = tmp_path / "front.jsonl"
    with peerlib.py_server("stateful", sniff=behind) as url:
        upstream = url.rsplit("/", 1)[0]
        proc, port = peerlib.start_capture(["--upstream", upstream, "-o", str(front)], tmp_path)
        via = f"http://127.0.0.1:{port}/mcp"
        try:
            ok(peerlib.run_seed_client(via, tool_calls=3))
            ok(peerlib.run_py_client(via, calls=2))
            ok(peerlib.run_ts_client(via, calls=1))
        finally:
            peerlib.stop_capture(proc)
    proxy_doc, mw_doc = analyze(front), analyze(*parts(behind))
    assert planes_view(mw_doc) == planes_view(proxy_doc)
    assert findings_view(mw_doc) == findings_view(proxy_doc)
    assert {p["user_agent"] for p in mw_doc["planes"]} >= {SEED_TOOL_UA, SEED_CTRL_UA}
    assert ("session-id-dropped", "error", SEED_TOOL_UA, 3) in findings_view(mw_doc)
    # record by record: the same requests, bodies and answers
    _, proxy_exs = records([front])
    _, mw_exs = records(parts(behind))

    def view(exs):
        return sorted(json.dumps([e["req"]["method"], header(e["req"]["headers"], "user-agent"),
                                  header(e["req"]["headers"], "mcp-session-id"), e["req"]["body"]["rpc"],
                                  e["resp"]["status"], header(e["resp"]["headers"], "mcp-session-id"),
                                  [ev["data"] for ev in e["resp"]["sse"] or []]]) for e in exs)

    assert view(mw_exs) == view(proxy_exs)


# -- SDK 2.x, in its own venv without mitmproxy ------------------------------------------------------
def test_sdk_2x_server_wrapped_in_a_venv_without_mitmproxy(tmp_path):
    no_mitm = subprocess.run([str(peerlib.MCP2_PY), "-c", "import mitmproxy"], capture_output=True)
    assert no_mitm.returncode != 0  # the point: the middleware needs no mitmproxy
    out = tmp_path / "mcp2.jsonl"
    with peerlib.modern_server(sniff=out) as url:
        ok(peerlib.run_modern_client(url))  # 2026-07-28
        ok(peerlib.run_py_client(url, calls=1))  # the handshake era, SDK 1.x client
    metas, exs = records(parts(out))
    assert metas[0]["recorder"] == "asgi" and metas[0]["server"].startswith("uvicorn ")
    assert "initialize" in rpc_methods(exs) and "tools/call" in rpc_methods(exs)
    doc = analyze(*parts(out))
    assert errors(doc) == []
    assert {p["era"] for p in doc["planes"]} == {"modern", "handshake"}
    assert all(p["verdict"] == "ok" for p in doc["planes"])


# -- worker processes -------------------------------------------------------------------------------
def test_each_worker_writes_its_own_part_and_analyze_reads_them_together(tmp_path):
    out = tmp_path / "workers.jsonl"
    clients = 6
    with peerlib.py_server("stateless", sniff=out, workers=2) as url:
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda _: peerlib.run_seed_client(url, tool_calls=2, fix=True), range(clients)))
        summaries = [ok(r) for r in runs]
    files = parts(out)
    assert len(files) == 2  # each worker opened its part at startup
    metas, exs = records(files)
    assert len({m["pid"] for m in metas}) == 2 and len({m["capture"] for m in metas}) == 2
    sent = sum(len(p["requests"]) for s in summaries for p in s["planes"].values())
    assert len(exs) == sent and len({e["id"] for e in exs}) == sent
    doc = analyze(*files)
    assert sum(p["requests"] for p in doc["planes"]) == sent
    assert doc["capture"]["exchanges"] == sent and errors(doc) == []


# -- streaming timing ---------------------------------------------------------------------------------
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def timed_ticks(url: str, n: int, interval: float) -> list[tuple[float, dict]]:
    """One session; a ticks tool call; each SSE event with its arrival time after the request was sent."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "timing", "version": "1"}}}
    with httpx.Client(timeout=30) as c:
        r = c.post(url, json=init, headers=ACCEPT)
        assert r.status_code == 200
        h = {**ACCEPT, "mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        assert c.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=h).status_code == 202
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "ticks", "arguments": {"n": n, "interval": interval}, "_meta": {"progressToken": "p"}}}
        got = []
        t0 = time.monotonic()
        with c.stream("POST", url, json=call, headers=h) as resp:
            for line in resp.iter_lines():
                if line.startswith("data:"):
                    got.append((time.monotonic() - t0, json.loads(line[5:])))
    return got


def test_a_streamed_call_with_1s_gaps_arrives_with_the_same_timing_and_every_event_is_recorded(tmp_path):
    out = tmp_path / "timing.jsonl"
    rounds = []  # (largest per-event difference, plain, sniffed); the timer jitter of a busy 2-core
    # machine alone reaches a few ms, so up to 3 rounds are measured and the best one must hold
    with peerlib.py_server("stateful") as plain_url, peerlib.py_server("stateful", sniff=out) as sniffed_url:
        timed_ticks(plain_url, 1, 0)  # warm both servers up (first-call imports)
        timed_ticks(sniffed_url, 1, 0)
        while len(rounds) < 3 and not (rounds and rounds[-1][0] <= 0.010):
            plain = timed_ticks(plain_url, 3, 1.0)
            sniffed = timed_ticks(sniffed_url, 3, 1.0)
            assert [m for _, m in sniffed] == [m for _, m in plain] and len(plain) == 7
            rounds.append((max(abs(s[0] - p[0]) for s, p in zip(sniffed, plain)), plain, sniffed))
    best, plain, sniffed = min(rounds, key=lambda r: r[0])
    gaps = [b[0] - a[0] for a, b in zip(plain, plain[1:])]
    assert sum(g > 0.9 for g in gaps) == 2  # two 1 s pauses: the stream really streamed
    # each event arrives when it does without the middleware
    assert best <= 0.010, [[round(abs(s[0] - p[0]) * 1000, 1) for s, p in zip(r[2], r[1])] for r in rounds]
    # every event recorded, in order, each stamped when it was sent
    _, exs = records(parts(out))
    calls = [e for e in exs for m in (e["req"]["body"]["rpc"] or []) if m.get("params", {}).get("arguments", {}).get("n") == 3]
    assert len(calls) == len(rounds)
    for rec, (_, _, seen) in zip(sorted(calls, key=lambda e: e["t"]["req"]), rounds):
        sse = rec["resp"]["sse"]
        assert [json.loads(ev["data"]) for ev in sse] == [m for _, m in seen]
        rec_offsets = [ev["t"] - sse[0]["t"] for ev in sse]
        client_offsets = [t - seen[0][0] for t, _ in seen]
        assert max(abs(a - b) for a, b in zip(rec_offsets, client_offsets)) <= 0.010


# -- docs/record-in-process.md, as written -------------------------------------------------------------
ECHO_CLIENT = """
import sys, anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main():
    async with streamablehttp_client(sys.argv[1]) as (read, write, _):
        async with ClientSession(read, write) as s:
            await s.initialize()
            result = await s.call_tool("echo", {"text": "hello"})
            print(result.content[0].text)

anyio.run(main)
"""


def _doc_block(doc: str, first_line: str) -> str:
    """The fenced block of a doc that starts with `first_line`."""
    for block in re.findall(r"```\w*\n(.*?)```", (peerlib.ROOT / "docs" / doc).read_text(), re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"no block starting {first_line!r} in docs/{doc}")


def test_the_in_process_docs_flow_works_as_written(tmp_path):
    """docs/record-in-process.md: its server.py, served as its comment says (`uvicorn server:app`, on a
    free port), twice (a restart: two server processes, two files), a real SDK client each time; then
    its analyze and report commands, word for word, with the name the app was given: every process's
    file is read as one capture, and a note names them."""
    (tmp_path / "server.py").write_text(_doc_block("record-in-process.md", "# server.py\n"))
    assert "# or: uvicorn server:app --port 8000" in (tmp_path / "server.py").read_text()
    for run in range(2):
        port = peerlib.free_port()
        log_path = tmp_path / f"uvicorn{run}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([peerlib._python(), "-m", "uvicorn", "server:app", "--host", "127.0.0.1",
                                     "--port", str(port)], cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, env=peerlib._child_env({}))
        try:
            peerlib._wait_listening(proc, port, log_path)
            client = peerlib.run_client([peerlib._python(), "-c", ECHO_CLIENT, f"http://127.0.0.1:{port}/mcp"])
            assert client.returncode == 0 and client.stdout == "hello\n", client.stderr
        finally:
            peerlib._stop(proc)  # SIGTERM: the server writes what is queued
    files = sorted((tmp_path / "captures").glob("server.pid*.jsonl"), key=lambda f: int(f.name.split(".")[1][3:]))
    assert len(files) == 2 and not (tmp_path / "captures" / "server.jsonl").exists()
    commands = _doc_block("record-in-process.md", "mcpsniff analyze captures/server.jsonl\n").splitlines()
    assert commands == ["mcpsniff analyze captures/server.jsonl", "mcpsniff report  captures/server.jsonl -o report.md"]
    note = ("note: captures/server.jsonl is not a file: read as one capture from the in-process recorder's "
            f"per-process files {', '.join(f'captures/{f.name}' for f in files)}\n")
    for cmd in commands:
        argv = [peerlib._python(), "-m", "mcpsniff", *cmd.split()[1:]]
        run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.returncode in (0, 1) and run.stderr.startswith(note) and "error" not in run.stderr, run.stderr
    run = subprocess.run([peerlib._python(), "-m", "mcpsniff", "analyze", "captures/server.jsonl", "--format", "json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    doc = json.loads(run.stdout)
    metas, exs = records(files)
    assert len({m["pid"] for m in metas}) == 2 and rpc_methods(exs).count("tools/call") == 2
    assert doc["capture"]["exchanges"] == len(exs) and errors(doc) == []
    assert (tmp_path / "report.md").read_text().startswith("## MCP session report")
