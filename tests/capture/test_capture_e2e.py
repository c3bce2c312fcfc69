"""End to end through a REAL mitmproxy on 127.0.0.1: streaming, redaction, crash safety, errors, modes.

The proxy runs in-process (``Capture.start()``: a DumpMaster on port 0 in a background thread)
or as the ``mcpsniff capture`` / ``mitmdump -s`` subprocess.  Upstream servers are small stdlib
HTTP servers here, and the real SDK peers of tests/peerlib.py further down.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from mcpsniff import schema
from mcpsniff.capture import Capture, CaptureConfig, CaptureError
from mcpsniff.capture.recorder import RecorderOptions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
BIN = Path(sys.executable).parent


# -- a small upstream ---------------------------------------------------------------------------
class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []  # replaced per server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _sse_headers(self, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()

    def do_GET(self) -> None:
        self.server.seen.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
        if self.path.startswith("/events"):
            gz = "gzip" in self.path
            n, gap = 3, 1.0
            m = re.search(r"gap=([\d.]+)", self.path)
            if m:
                gap = float(m.group(1))
            self._sse_headers("gzip" if gz else None)
            co = zlib.compressobj(wbits=31) if gz else None
            for i in range(n):
                ev = b"id: %d\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"i\":%d}}\n\n" % (i, i)
                self._chunk(co.compress(ev) + co.flush(zlib.Z_SYNC_FLUSH) if co else ev)
                if i < n - 1:
                    time.sleep(gap)
            if co:
                self._chunk(co.flush())
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        body = b"not found"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
        try:
            req = json.loads(body)
        except (ValueError, RecursionError):
            req = {}
        if not isinstance(req, dict):
            req = {}
        result = {"jsonrpc": "2.0", "id": req.get("id"),
                  "result": {"protocolVersion": "2025-06-18", "access_token": "SSE-SECRET-5"}}
        if "sse=1" in self.path:
            self._sse_headers()
            self._chunk(b"id: a1\ndata:\n\n")
            self._chunk(b"data: " + json.dumps(result).encode() + b"\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        out = json.dumps(result).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Mcp-Session-Id", "sess-visible-1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a killed proxy resets connections: expected
        pass


@contextmanager
def upstream() -> Iterator[tuple[str, list[dict]]]:
    srv = QuietServer(("127.0.0.1", 0), Upstream)
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", srv.seen
    finally:
        srv.shutdown()
        srv.server_close()


@contextmanager
def capture(tmp_path: Path, upstream_url: str | None = None, **kw) -> Iterator[tuple[Capture, Path]]:
    out = tmp_path / "cap.jsonl"
    cap = Capture(CaptureConfig(RecorderOptions(output=str(out), **kw), upstream=upstream_url, listen_port=0)).start()
    try:
        yield cap, out
    finally:
        cap.join()


def records(path: Path) -> list[dict]:
    recs = [json.loads(line) for line in path.read_bytes().splitlines()]
    for r in recs:
        schema.check_record(r)
    return [r for r in recs if r["kind"] == "exchange"]


def analyze(path: Path) -> dict:
    mcpsniff = BIN / "mcpsniff"
    argv = [str(mcpsniff)] if mcpsniff.exists() else [PY, "-m", "mcpsniff"]
    run = subprocess.run(argv + ["analyze", str(path), "--format", "json", "--fail-on", "never"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited early: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def sse_arrivals(url: str, **kw) -> list[tuple[float, dict]]:
    got = []
    with httpx.stream("GET", url, timeout=20, **kw) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                got.append((time.monotonic(), json.loads(line[5:])))
    return got


# -- (a) SSE is streamed, not buffered -----------------------------------------------------------
@pytest.mark.parametrize("path", ["/events", "/events?gzip=1"])
def test_sse_arrives_as_sent_and_is_recorded_per_event(tmp_path, path):
    with upstream() as (up, _), capture(tmp_path, up) as (cap, out):
        got = sse_arrivals(f"http://127.0.0.1:{cap.port}{path}")
    assert [m["params"]["i"] for _, m in got] == [0, 1, 2]
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    assert all(g > 0.7 for g in gaps), gaps
    [ex] = records(out)
    sse = ex["resp"]["sse"]
    assert [e["id"] for e in sse] == ["0", "1", "2"] and all(e["event"] == "message" for e in sse)
    rec_gaps = [b["t"] - a["t"] for a, b in zip(sse, sse[1:])]
    assert all(0.7 < g < 1.6 for g in rec_gaps), rec_gaps
    assert ex["resp"]["body"]["encoding"] == ("gzip" if "gzip" in path else None)
    assert ex["t"]["req"] <= ex["t"]["resp"] <= sse[0]["t"] <= ex["t"]["end"]


# -- (b) secrets reach the server but not the file -------------------------------------------------
def test_secrets_are_forwarded_unchanged_and_absent_from_the_file(tmp_path):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "login", "arguments": {"password": "BODY-SECRET-3"}}}
    with upstream() as (up, seen), capture(tmp_path, up) as (cap, out):
        base = f"http://127.0.0.1:{cap.port}"
        headers = {"Authorization": "Bearer HEADER-SECRET-1", "User-Agent": "e2e/1"}
        r = httpx.post(f"{base}/mcp?access_token=QUERY-SECRET-2", json=body, headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["result"]["access_token"] == "SSE-SECRET-5"
        with httpx.stream("POST", f"{base}/mcp?sse=1", json=body, headers=headers, timeout=10) as s:
            streamed = s.read()
        assert b"SSE-SECRET-5" in streamed  # the client gets the secret
    assert seen[0]["headers"]["Authorization"] == "Bearer HEADER-SECRET-1"
    assert seen[0]["path"] == "/mcp?access_token=QUERY-SECRET-2"
    assert json.loads(seen[0]["body"]) == body
    raw = out.read_bytes()
    for secret in (b"HEADER-SECRET-1", b"QUERY-SECRET-2", b"BODY-SECRET-3", b"SSE-SECRET-5"):
        assert secret not in raw
    assert raw.count(b"<redacted:") >= 6
    ex = records(out)
    assert len(ex) == 2
    assert ["Mcp-Session-Id", "sess-visible-1"] in ex[0]["resp"]["headers"]  # evidence is kept
    assert ex[1]["resp"]["sse"][0] == {**ex[1]["resp"]["sse"][0], "id": "a1", "data": ""}  # priming event


# -- (c) a killed capture leaves a loadable file ----------------------------------------------------
def start_cli(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([PY, "-m", "mcpsniff", "capture", "--listen-port", "0", "--quiet", *args],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stderr.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert m, line + proc.stderr.read()
    return proc, int(m.group(1))


def test_sigkill_mid_traffic_leaves_whole_lines(tmp_path):
    out = tmp_path / "killed.jsonl"
    with upstream() as (up, _):
        proc, port = start_cli(["--upstream", up, "-o", str(out)], tmp_path)
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(timeout=5) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        c.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": i, "method": "ping",
                                                                      "params": {"pad": "x" * 3000}})
                    except httpx.HTTPError:
                        return

        workers = [threading.Thread(target=traffic) for _ in range(4)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 40):
            time.sleep(0.02)
        proc.kill()
        proc.wait(10)
        stop.set()
        for w in workers:
            w.join(10)
    data = out.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail is b"" unless the last line was torn
    assert len(complete) >= 40
    for line in complete:
        schema.check_record(json.loads(line))
    if tail:
        with pytest.raises(ValueError):
            json.loads(tail)
    # and the analyzer reads it
    report = analyze(out)
    assert [p["user_agent"] for p in report["planes"]] == [f"python-httpx/{httpx.__version__}"]


# -- (d) failures: upstream down, port in use -------------------------------------------------------
def test_reverse_mode_with_upstream_down_records_the_error(tmp_path):
    dead = free_port()
    with capture(tmp_path, f"http://127.0.0.1:{dead}") as (cap, out):
        r = httpx.post(f"http://127.0.0.1:{cap.port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                       timeout=10)
        assert r.status_code == 502
    [ex] = records(out)
    assert ex["resp"] is None and ex["error"]
    assert re.search(r"refused|connect", ex["error"], re.IGNORECASE)
    assert ex["req"]["body"]["rpc"][0]["method"] == "initialize"


def test_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run([PY, "-m", "mcpsniff", "capture", "--upstream", "http://127.0.0.1:9",
                              "--listen-port", str(port), "-o", str(tmp_path / "x.jsonl")],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "address already in use" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.jsonl").exists()  # a capture that never started leaves no file
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(CaptureError, match="address already in use"):
            Capture(CaptureConfig(RecorderOptions(output=str(tmp_path / "y.jsonl")), listen_port=busy.getsockname()[1])).start()


def test_bad_upstream_is_one_line_and_exit_2(tmp_path):
    run = subprocess.run([PY, "-m", "mcpsniff", "capture", "--upstream", "ftp://nowhere", "-o", str(tmp_path / "x.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "invalid upstream URL" in run.stderr


def test_sigterm_stops_cleanly_and_prints_the_analyze_command(tmp_path):
    out = tmp_path / "term.jsonl"
    with upstream() as (up, _):
        proc, port = start_cli(["--upstream", up, "-o", str(out)], tmp_path)
        r = httpx.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                       headers={"User-Agent": "term/1"}, timeout=10)
        assert r.status_code == 200
        # an open SSE stream at stop time is recorded as "capture stopped"
        opened = threading.Event()

        def hold() -> None:
            try:
                with httpx.stream("GET", f"http://127.0.0.1:{port}/events?gap=30", timeout=60) as s:
                    for _ in s.iter_lines():
                        opened.set()
            except httpx.HTTPError:
                pass

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert opened.wait(10)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"mcpsniff: recorded 2 exchanges to {out}" in err
    assert f"analyze with: {PY} -m mcpsniff analyze {out}" in err  # the command as it was run
    ex = records(out)
    assert len(ex) == 2
    stream = next(e for e in ex if e["req"]["method"] == "GET")
    assert stream["error"] == "capture stopped" and stream["resp"]["sse"][0]["id"] == "0"


def test_a_full_disk_fails_no_client_request(tmp_path):
    """The recorder must never break the traffic it observes: after the disk fills, every request
    is still forwarded, recording stops loudly, and the count of unrecorded exchanges is reported."""
    logged = []
    with upstream() as (up, _):
        cap = Capture(CaptureConfig(RecorderOptions(output=str(tmp_path / "full.jsonl")), upstream=up, listen_port=0))
        cap.on_error = logged.append
        cap.start()
        try:
            url = f"http://127.0.0.1:{cap.port}/mcp"
            assert httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=10).status_code == 200
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, cap.addon.writer.file.fd)  # the disk is now full
            os.close(full)
            statuses = []
            with httpx.Client(timeout=10) as c:
                for i in range(400):
                    statuses.append(c.post(url, json={"jsonrpc": "2.0", "id": i + 2, "method": "ping"}).status_code)
            assert statuses == [200] * 400  # 0 of 400 client requests failed
            assert cap._thread.is_alive()  # the proxy still runs
            assert any("No space left on device" in m for m in logged)  # said at once
        finally:
            cap.join()
    assert isinstance(cap.error, CaptureError)
    assert "No space left on device" in str(cap.error) and "400 exchanges went unrecorded" in str(cap.error)
    assert len(records(tmp_path / "full.jsonl")) == 1  # whole lines only, readable


# -- (e) regular proxy mode through HTTP_PROXY --------------------------------------------------------
CLIENT = """
import json, os, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize"}).encode(),
                             headers={"Content-Type": "application/json", "User-Agent": "via-proxy/1"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
"""


def test_regular_proxy_mode_with_http_proxy(tmp_path):
    with upstream() as (up, seen), capture(tmp_path) as (cap, out):
        env = {k: v for k, v in os.environ.items() if k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")}
        env["HTTP_PROXY"] = env["http_proxy"] = f"http://127.0.0.1:{cap.port}"
        run = subprocess.run([PY, "-c", CLIENT, f"{up}/mcp"], env=env, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["result"]["protocolVersion"] == "2025-06-18"
    assert len(seen) == 1
    [ex] = records(out)
    assert ex["req"]["url"] == f"{up}/mcp"
    assert schema.header_value(ex["req"]["headers"], "user-agent") == "via-proxy/1"
    assert ex["resp"]["status"] == 200
    meta = json.loads(out.read_bytes().splitlines()[0])
    assert meta["mode"] == ["regular"]


# -- (f) mitmdump -s addons/mcpsniff_addon.py ---------------------------------------------------------
def run_mitmdump(argv: list[str], port: int, out: Path, up: str, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        argv + ["-q", "--mode", f"reverse:{up}", "--listen-host", "127.0.0.1", "--listen-port", str(port),
                "--set", f"mcpsniff_output={out}", "--set", "connection_strategy=lazy"],
        cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_port(port, proc)
    return proc


def post_initialize(port: int) -> None:
    r = httpx.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                   headers={"Authorization": "Bearer DUMP-SECRET"}, timeout=10)
    assert r.status_code == 200


def test_mitmdump_script_records_an_exchange(tmp_path):
    mitmdump = shutil.which("mitmdump", path=str(BIN)) or shutil.which("mitmdump")
    assert mitmdump, "mitmdump is not installed next to the test interpreter"
    out, port = tmp_path / "dump.jsonl", free_port()
    with upstream() as (up, _):
        proc = run_mitmdump([mitmdump, "-s", str(ROOT / "addons" / "mcpsniff_addon.py")], port, out, up, tmp_path)
        try:
            post_initialize(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    [ex] = records(out)
    assert ex["req"]["body"]["rpc"][0]["method"] == "initialize" and ex["resp"]["status"] == 200
    assert b"DUMP-SECRET" not in out.read_bytes()


# In a clean checkout the package may only be importable from the repo root: the script must find it.
BLOCKED_MITMDUMP = """
import importlib.machinery, sys
checkout = sys.argv.pop(1)
class OnlyFromCheckout:
    def find_spec(self, name, path=None, target=None):
        if name != "mcpsniff":
            return None
        if checkout not in sys.path:
            raise ModuleNotFoundError("No module named 'mcpsniff'", name=name)
        return importlib.machinery.PathFinder.find_spec(name, [checkout])
sys.meta_path.insert(0, OnlyFromCheckout())
sys.path = [p for p in sys.path if p not in ("", ".", checkout)]
from mitmproxy.tools.main import mitmdump
sys.argv[0] = "mitmdump"
mitmdump()
"""


def test_mitmdump_script_from_a_clean_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "mcpsniff", checkout / "mcpsniff", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "addons", checkout / "addons", ignore=shutil.ignore_patterns("__pycache__"))
    out, port = tmp_path / "clean.jsonl", free_port()
    with upstream() as (up, _):
        proc = run_mitmdump([PY, "-c", BLOCKED_MITMDUMP, str(checkout), "-s", "addons/mcpsniff_addon.py"],
                            port, out, up, checkout)
        try:
            post_initialize(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert len(records(out)) == 1, err


# == real SDK peers through the capture (reverse mode) ==================================================
from urllib.parse import urlsplit  # noqa: E402

import peerlib  # noqa: E402

SESSION_KEYS = ("session_id", "response_session_id")


def normalize(summary):
    """A client summary without what legitimately differs between two runs (URLs, session ids)."""
    if isinstance(summary, dict):
        return {k: (bool(v) if k in SESSION_KEYS else normalize(v)) for k, v in summary.items() if k != "url"}
    if isinstance(summary, list):
        return [normalize(v) for v in summary]
    return summary


def ok(run: peerlib.ClientRun) -> dict:
    assert run.returncode == 0, f"client failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert run.summary is not None and run.summary.get("ok") is True, run.stdout
    return run.summary


def via_proxy(url: str, cap: Capture) -> str:
    u = urlsplit(url)
    return f"http://127.0.0.1:{cap.port}{u.path}"


def upstream_of(url: str) -> str:
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


def rpc_out(ex: dict) -> list[dict]:
    """JSON-RPC messages the server sent back in an exchange (JSON body or SSE events)."""
    resp = ex["resp"] or {}
    msgs = list(((resp.get("body") or {}).get("rpc")) or [])
    for ev in resp.get("sse") or []:
        if ev["data"][:1] in ("{", "["):
            data = json.loads(ev["data"])
            msgs += data if isinstance(data, list) else [data]
    return msgs


def rpc_in(ex: dict) -> list[dict]:
    return list(ex["req"]["body"]["rpc"] or [])


def methods(exs: list[dict]) -> list[str]:
    return [m["method"] for ex in exs for m in rpc_in(ex) if "method" in m]


def check_each_request_recorded_once_with_its_answer(exs: list[dict]) -> None:
    ids = [e["id"] for e in exs]
    assert len(ids) == len(set(ids)), "an exchange was written twice"
    answers = [(json.dumps(m.get("id")), ex["client"]["conn"]) for ex in exs for m in rpc_out(ex) if "method" not in m]
    for ex in exs:
        if ex["error"] is not None:  # only a client closing an SSE stream it no longer needs
            assert ex["error"] == "Client disconnected." and ex["resp"]["sse"] is not None, ex["error"]
        if ex["resp"]["status"] >= 400:  # refused at the HTTP level (e.g. 400 "Missing session ID"): no JSON-RPC answer
            assert ex["resp"]["body"]["size"] > 0
            continue
        for m in rpc_in(ex):
            if "method" in m and "id" in m:
                # a recorded answer with this id on some exchange of the capture (the same one, or the GET stream)
                assert any(a == json.dumps(m["id"]) for a, _ in answers), (m, ex["req"]["url"])


def dropped_findings(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == "session-id-dropped"]


def assert_clean(report: dict, *, no_session_findings: bool = False) -> None:
    """A correct SDK session: no error finding at all, every plane ok."""
    errors = [(f["rule"], f["plane"], f["detail"]) for f in report["findings"] if f["severity"] == "error"]
    assert errors == []
    assert report["planes"] and all(p["verdict"] == "ok" for p in report["planes"])
    if no_session_findings:  # legacy and 2026-07-28 traffic has no session header to judge
        assert [f["rule"] for f in report["findings"] if f["rule"].startswith("session-")] == []
        assert all(p["session_header"]["dropped"] == 0 and p["session_header"]["echoed"] == 0 for p in report["planes"])


@pytest.fixture(scope="module")
def servers():
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {mode: stack.enter_context(peerlib.py_server(mode)) for mode in peerlib.PY_SERVER_MODES}


@pytest.mark.parametrize("mode", ["stateful", "stateless", "json"])
def test_py_client_through_capture(servers, tmp_path, mode):
    url = servers[mode]
    direct = ok(peerlib.run_py_client(url, calls=2))
    with capture(tmp_path, upstream_of(url)) as (cap, out):
        proxied = ok(peerlib.run_py_client(via_proxy(url, cap), calls=2))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    ms = methods(exs)
    assert ms.count("initialize") == 1 and ms.count("tools/list") == 1 and ms.count("resources/read") == 1
    assert ms.count("tools/call") == proxied["calls"]
    if mode != "json":  # the ticks call streams 3 progress + 3 log notifications, then the result
        ticks = next(e for e in exs for m in rpc_in(e) if m.get("params", {}).get("name") == "ticks")
        sse = ticks["resp"]["sse"]
        kinds = [json.loads(ev["data"]).get("method", "result") for ev in sse if ev["data"]]
        assert kinds.count("notifications/progress") == 3 and kinds.count("notifications/message") == 3
        assert kinds[-1] == "result"
        ts = [ev["t"] for ev in sse]
        assert ts == sorted(ts)
    report = analyze(out)
    assert dropped_findings(report) == []
    assert_clean(report)
    assert any(p["user_agent"].startswith("python-httpx") for p in report["planes"])


def test_py_client_legacy_sse_through_capture(servers, tmp_path):
    url = servers["legacy"]
    direct = ok(peerlib.run_py_client(url, transport="sse", calls=2))
    with capture(tmp_path, upstream_of(url)) as (cap, out):
        proxied = ok(peerlib.run_py_client(via_proxy(url, cap), transport="sse", calls=2))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    [stream] = [e for e in exs if e["req"]["method"] == "GET"]
    events = stream["resp"]["sse"]
    assert events[0]["event"] == "endpoint" and "session_id=" in events[0]["data"]
    posts = [e for e in exs if e["req"]["method"] == "POST"]
    assert posts and all(urlsplit(e["req"]["url"]).path == urlsplit(events[0]["data"]).path for e in posts)
    # every answer to a POSTed request came back as its own event on the GET stream
    answered = {json.dumps(json.loads(ev["data"]).get("id")) for ev in events if ev["event"] == "message"}
    for m in (m for e in posts for m in rpc_in(e) if "id" in m and "method" in m):
        assert json.dumps(m["id"]) in answered
    assert methods(exs).count("tools/call") == proxied["calls"]
    report = analyze(out)
    assert_clean(report, no_session_findings=True)
    assert {p["era"] for p in report["planes"]} == {"legacy"}


def test_ts_client_through_capture(servers, tmp_path):
    url = servers["stateful"]
    direct = ok(peerlib.run_ts_client(url, calls=2))
    with capture(tmp_path, upstream_of(url)) as (cap, out):
        proxied = ok(peerlib.run_ts_client(via_proxy(url, cap), calls=2))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    assert methods(exs).count("tools/call") == proxied["calls"]
    assert_clean(analyze(out))


@pytest.mark.parametrize("client", ["py", "ts"])
def test_clients_against_the_ts_sdk_server(tmp_path, client):
    run = peerlib.run_py_client if client == "py" else peerlib.run_ts_client
    with peerlib.ts_server() as url:
        direct = ok(run(url, calls=2))
        with capture(tmp_path, upstream_of(url)) as (cap, out):
            proxied = ok(run(via_proxy(url, cap), calls=2))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    report = analyze(out)
    assert_clean(report)
    (plane,) = report["planes"]
    assert plane["sessions_issued"] == 1 and plane["session_header"]["dropped"] == 0 and plane["session_header"]["echoed"] >= 4


def test_modern_client_through_capture(tmp_path):
    with peerlib.modern_server() as url:
        direct = ok(peerlib.run_modern_client(url))
        with capture(tmp_path, upstream_of(url)) as (cap, out):
            proxied = ok(peerlib.run_modern_client(via_proxy(url, cap)))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    assert "initialize" not in methods(exs)
    assert all(schema.header_value(e["req"]["headers"], "mcp-session-id") is None for e in exs)
    report = analyze(out)
    assert_clean(report, no_session_findings=True)
    assert {p["era"] for p in report["planes"]} == {"modern"}
    assert report["findings"] == []  # headers mirror the body, _meta complete


@pytest.mark.parametrize("mode", ["stateful", "json"])
@pytest.mark.parametrize("fix", [False, True])
def test_seed_client_through_capture_and_verdict(servers, tmp_path, mode, fix):
    url = servers[mode]
    direct = ok(peerlib.run_seed_client(url, tool_calls=3, fix=fix))
    with capture(tmp_path, upstream_of(url)) as (cap, out):
        proxied = ok(peerlib.run_seed_client(via_proxy(url, cap), tool_calls=3, fix=fix))
    assert normalize(proxied) == normalize(direct)
    exs = records(out)
    check_each_request_recorded_once_with_its_answer(exs)
    # exactly the client's requests, per plane, in order, with what it sent and got
    for plane in proxied["planes"].values():
        mine = sorted((e for e in exs if schema.header_value(e["req"]["headers"], "user-agent") == plane["user_agent"]),
                      key=lambda e: e["t"]["req"])
        assert [(rpc_in(e)[0]["method"], e["resp"]["status"]) for e in mine] == [
            (r["method"], r["status"]) for r in plane["requests"]]
        assert [schema.header_value(e["req"]["headers"], "mcp-session-id") is not None for e in mine[1:]] == [
            r["sent_session_id"] for r in plane["requests"][1:]]
        assert schema.header_value(mine[0]["resp"]["headers"], "mcp-session-id") == plane["session_id"]
    report = analyze(out)
    assert {p["user_agent"] for p in report["planes"]} >= {"openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0"}
    dropped = dropped_findings(report)
    verdicts = {p["user_agent"]: p["verdict"] for p in report["planes"]}
    if fix:
        assert dropped == []
        assert_clean(report)
    else:
        assert len(dropped) == 1
        [f] = dropped
        assert f["plane"] == "openai-mcp/1.0.0" and f["count"] == 3 and f["severity"] == "error"
        assert f["by_method"] == {"tools/call": 3}
        assert f["evidence"]
        # the sibling plane stays clean; the SDK server answered 400, so it is not blamed
        assert verdicts == {"openai-mcp/1.0.0 (ChatGPT)": "ok", "openai-mcp/1.0.0": "fail"}
        assert [x["rule"] for x in report["findings"] if x["severity"] == "error"] == ["session-id-dropped"]
        assert "missing-session-accepted" not in {x["rule"] for x in report["findings"]}


def test_sdk_1x_client_against_sdk_2x_server_in_handshake_mode_is_clean(tmp_path):
    """The Python SDK 2.x server speaking the handshake era to a 1.x client: no error, no refusal."""
    with peerlib.modern_server() as url:
        with capture(tmp_path, upstream_of(url)) as (cap, out):
            ok(peerlib.run_py_client(via_proxy(url, cap), calls=2))
    report = analyze(out)
    assert_clean(report)
    assert {p["era"] for p in report["planes"]} == {"handshake"}
    assert report["summary"]["capture_failed"] is None


def test_sdk_2x_client_in_handshake_mode_is_clean(servers, tmp_path):
    """The Python SDK 2.x client falling back to the handshake era against a 1.x server."""
    url = servers["stateful"]
    with capture(tmp_path, upstream_of(url)) as (cap, out):
        run = peerlib.run_client([str(peerlib.MCP2_PY), str(peerlib.PEERS / "modern_client.py"), "--url", via_proxy(url, cap),
                                  "--mode", "auto"])
        ok(run)
    report = analyze(out)
    assert_clean(report)
    assert "handshake" in {p["era"] for p in report["planes"]}


# -- odd bodies: everything forwarded is recorded, as a line the reader accepts ---------------------
ODD_BODIES = {
    "nested 960 deep": b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 960 + b"]" * 960 + b"}",
    "nested 963 deep": b'{"jsonrpc":"2.0","id":2,"method":"x","params":' + b"[" * 963 + b"]" * 963 + b"}",
    "nested 5000 deep": b"[" * 5000 + b"]" * 5000,
    "lone surrogate": b'{"jsonrpc":"2.0","id":3,"method":"x","params":{"s":"\\ud800"}}',
    "NaN": b'{"jsonrpc":"2.0","id":4,"method":"x","params":{"n":NaN}}',
    "huge integer": b'{"jsonrpc":"2.0","id":5,"method":"x","params":{"n":' + b"9" * 400 + b"}}",
    "invalid UTF-8": b'{"jsonrpc":"2.0","id":6,"method":"x","params":{"s":"\xff\xfe"}}',
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "5 MB of JSON": b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"' + b"y" * (5 << 20) + b'"}}',
}


def test_odd_bodies_are_all_recorded_readably(tmp_path):
    with upstream() as (up, seen):
        with capture(tmp_path, up) as (cap, out):
            with httpx.Client(timeout=20) as c:
                statuses = [c.post(f"http://127.0.0.1:{cap.port}/mcp", content=body,
                                   headers={"Content-Type": "application/json", "Mcp-Session-Id": "s-1"}).status_code
                            for body in ODD_BODIES.values()]
    assert statuses == [200] * len(ODD_BODIES)
    assert [s["body"] for s in seen] == list(ODD_BODIES.values())  # forwarded byte for byte
    exs = records(out)  # every line passes schema.check_record
    assert len(exs) == len(ODD_BODIES)  # none dropped
    by_id = {i: ex for i, ex in enumerate(sorted(exs, key=lambda e: e["t"]["req"]))}
    kept_as_text = [ex["req"]["body"] for ex in by_id.values() if ex["req"]["body"].get("reason")]
    assert len(kept_as_text) >= 5 and all(b["text"] is not None for b in kept_as_text)
    r = subprocess.run([PY, "-m", "mcpsniff", "analyze", str(out), "-f", "json", "--fail-on", "never"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["problems"] == [] and doc["inputs"][0]["exchanges"] == len(ODD_BODIES)


def test_a_failure_beside_the_proxy_stops_the_capture_and_is_raised(tmp_path):
    """What runs beside the proxy (the banner, the live summary) failing once the proxy listens used to
    leave the proxy running with nothing on screen: `capture --web` hung. It stops and raises instead."""
    import asyncio

    from mcpsniff.capture.proxy import run_until_stopped

    async def banner(cap):
        while not cap.ready.is_set():
            await asyncio.sleep(0.05)
        raise RuntimeError("the banner broke")

    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            run_until_stopped(CaptureConfig(RecorderOptions(output=str(tmp_path / "c.jsonl")), listen_port=0), beside=banner)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the capture kept running after the banner failed"
    assert isinstance(outcome[0], RuntimeError) and str(outcome[0]) == "the banner broke"
