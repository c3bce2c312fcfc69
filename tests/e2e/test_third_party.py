"""MCP implementations written by others, installed from npm and PyPI as their users install them,
recorded through `mcpsniff capture`: mcpsniff must raise no error or warning on their traffic unless a
reading of the spec supports it (SUPPORTED says which, and why).

Servers: @modelcontextprotocol/server-everything (npm, `streamableHttp` mode) and a fastmcp server
(PyPI, tests/peers/fastmcp_server.py). Clients: fastmcp's Client (tests/peers/fastmcp_client.py) and
mcp-remote's client mode (`mcp-remote-client`, npm; built on the v2 TypeScript SDK client, it sends
`Mcp-Method` / `Mcp-Name` headers inside an ordinary 2025-11-25 session). Versions are pinned in
tests/tools/thirdparty/package.json and scripts/setup.sh (.venv-fastmcp: fastmcp needs mcp 2.x,
which clashes with .venv's mcp 1.x). Every pair runs through one forward capture (`--all`); the
capture is cut per pair (by time: the pairs run one after another) and each part analysed on its own.
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from oracles import COUNTED, NODE22, Analysis, analyze_many, capture, split_capture
from peerlib import PEERS, ROOT, _child_env, _need, _server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

THIRD = ROOT / "tests" / "tools" / "thirdparty" / "node_modules"
EVERYTHING = THIRD / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
MCP_REMOTE_CLIENT = THIRD / "mcp-remote" / "dist" / "client.js"
FASTMCP_PY = ROOT / ".venv-fastmcp" / "bin" / "python"
CLIENT_TIMEOUT = 60

#: (party, rule) -> why a reading of the spec supports that finding on this traffic; a finding listed
#: here is reported, not failed. Empty: no error or warning is supported on any of these pairs.
SUPPORTED: dict[tuple[str, str], str] = {}


@contextmanager
def everything_server():
    _need(EVERYTHING, "server-everything (tests/tools/thirdparty/node_modules)")
    _need(NODE22, "Node 22 (tests/tools/conformance/node_modules)")
    port = free_port()
    with _server([str(NODE22), str(EVERYTHING), "streamableHttp"], port, f"http://127.0.0.1:{port}/mcp",
                 env={"PORT": str(port)}) as url:
        yield url


@contextmanager
def fastmcp_server():
    _need(FASTMCP_PY, "the fastmcp environment .venv-fastmcp")
    port = free_port()
    with _server([str(FASTMCP_PY), str(PEERS / "fastmcp_server.py"), "--port", str(port)], port,
                 f"http://127.0.0.1:{port}/mcp") as url:
        yield url


SERVERS = {"server-everything": everything_server, "fastmcp": fastmcp_server}


@dataclass
class Run:
    returncode: int
    out: str
    ok: bool


def _proxy_env(port: int, home: Path) -> dict[str, str]:
    addr = f"http://127.0.0.1:{port}"
    # NO_PROXY empty: the servers are on 127.0.0.1 and that is the traffic to record; HOME: mcp-remote
    # keeps its OAuth state under ~/.mcp-auth, which must not leak between runs or into the user's home
    return {"HTTP_PROXY": addr, "HTTPS_PROXY": addr, "NO_PROXY": "", "HOME": str(home)}


def run_fastmcp_client(url: str, env: dict[str, str]) -> Run:
    _need(FASTMCP_PY, "the fastmcp environment .venv-fastmcp")
    done = subprocess.run([str(FASTMCP_PY), str(PEERS / "fastmcp_client.py"), url], cwd=ROOT, env=_child_env(env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    last = next((json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith("{")), {})
    return Run(done.returncode, done.stdout + done.stderr, done.returncode == 0 and last.get("ok") is True)


def run_mcp_remote_client(url: str, env: dict[str, str]) -> Run:
    """`mcp-remote-client URL`: connects (OAuth discovery first), lists tools and resources, exits.
    It shuts down when its stdin closes, so stdin stays open until it has exited by itself."""
    _need(MCP_REMOTE_CLIENT, "mcp-remote (tests/tools/thirdparty/node_modules)")
    import tempfile

    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([str(NODE22), str(MCP_REMOTE_CLIENT), url, "--transport", "http-only",
                                 "--enable-proxy"], cwd=ROOT, env=_child_env(env), stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            proc.wait(timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        log.seek(0)
        out = log.read()
    return Run(proc.returncode, out, proc.returncode == 0 and "Exiting OK" in out)


CLIENTS = {"fastmcp": run_fastmcp_client, "mcp-remote": run_mcp_remote_client}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[tuple[str, str], tuple[Run, Run, Analysis]]:
    """(server, client) -> (direct run, captured run, analysis of the captured part)."""
    tmp = tmp_path_factory.mktemp("third-party")
    home = tmp / "home"
    home.mkdir()
    direct: dict[tuple[str, str], Run] = {}
    captured: dict[tuple[str, str], Run] = {}
    windows: dict[str, tuple[float, float]] = {}
    cap = tmp / "capture.jsonl"
    plain = {"HOME": str(home)}
    with capture(cap) as port:
        for server, serve in SERVERS.items():
            with serve() as url:
                for client, run in CLIENTS.items():
                    direct[server, client] = run(url, plain)
                    start = time.time()
                    captured[server, client] = run(url, _proxy_env(port, home))
                    windows[f"{server}--{client}"] = (start, time.time())
    files = split_capture(cap, windows, tmp / "split")
    keys = list(captured)
    analyses = analyze_many([files[f"{s}--{c}"] for s, c in keys])
    return {k: (direct[k], captured[k], a) for k, a in zip(keys, analyses)}


def test_every_pair_works_directly_and_through_capture(pairs):
    broken = [f"{s} x {c}: direct rc={d.returncode} ok={d.ok}, captured rc={r.returncode} ok={r.ok}\n{r.out[-1500:]}"
              for (s, c), (d, r, _) in pairs.items() if not (d.ok and r.ok)]
    assert not broken, "\n".join(broken)


def test_every_pair_was_recorded(pairs):
    empty = [f"{s} x {c}" for (s, c), (_, _, a) in pairs.items()
             if not any(x.method == "POST" and "/mcp" in x.url for x in a.exchanges)]
    assert not empty, f"no MCP POST recorded for: {empty}"


def test_no_error_or_warning_the_spec_does_not_support(pairs):
    wrong, supported = [], []
    for (s, c), (_, _, a) in pairs.items():
        for f in a.findings:
            if f.severity not in COUNTED:
                continue
            line = f"{s} x {c}: {f.party} {f.rule} ({f.severity}, x{f.count})" + "".join(
                f"\n      {x}" for x in f.evidence[:5])
            (supported if (f.party, f.rule) in SUPPORTED else wrong).append(line)
    also = ("\n(supported by the spec, not failed:\n" + "\n".join(supported) + ")") if supported else ""
    assert not wrong, (f"{len(wrong)} finding(s) on third-party traffic no reading of the spec supports:\n"
                       + "\n".join(wrong) + also)


def test_mcp_remote_sends_mcp_method_inside_a_handshake_session(pairs):
    """The premise of the mcp-remote pairs: a v2-SDK client that adds `Mcp-Method` to every POST of an
    ordinary 2025-11-25 session (initialize with that version, a session id issued and echoed)."""
    for server in SERVERS:
        _, _, a = pairs[server, "mcp-remote"]
        records = [json.loads(line) for line in a.capture.read_text().splitlines()]
        posts = [r for r in records if r.get("kind") == "exchange" and r["req"]["method"] == "POST"]
        init = next(r for r in posts if any(m.get("method") == "initialize" for m in r["req"]["body"]["rpc"] or []))
        headers = {k.lower(): v for k, v in init["req"]["headers"]}
        assert headers.get("mcp-method") == "initialize", headers
        assert init["req"]["body"]["rpc"][0]["params"]["protocolVersion"] == "2025-11-25"
        issued = {k.lower(): v for k, v in init["resp"]["headers"]}.get("mcp-session-id")
        assert issued, f"{server} issued no session id"
        later = [{k.lower(): v for k, v in r["req"]["headers"]} for r in posts if r is not init]
        assert later and all(h.get("mcp-session-id") == issued and "mcp-method" in h for h in later), later
