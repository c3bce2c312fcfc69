"""The real MCP peers work directly (no proxy) against every server kind they support.

Each client prints a JSON summary of what it received; the assertions are on that content.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from peerlib import (
    MCP2_PY,
    PEERS,
    PY_SERVER_MODES,
    ClientRun,
    _python,
    _server,
    free_port,
    modern_server,
    py_server,
    run_client,
    run_modern_client,
    run_py_client,
    run_seed_client,
    run_ts_client,
    ts_server,
)

pytestmark = pytest.mark.slow

TOOLS = ["add", "echo", "ticks"]
NOTE = "hello from mcpsniff"


@pytest.fixture(scope="module")
def servers():
    with ExitStack() as stack:
        yield {mode: stack.enter_context(py_server(mode)) for mode in PY_SERVER_MODES}


@pytest.fixture(scope="module")
def ts_url():
    with ts_server() as url:
        yield url


@pytest.fixture(scope="module")
def modern_url():
    with modern_server() as url:
        yield url


def ok(run: ClientRun) -> dict:
    assert run.returncode == 0, f"client failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert run.summary is not None and run.summary["ok"] is True, run.stdout
    return run.summary


def check_common(s: dict, calls: int, streamed: bool) -> None:
    assert s["tools"] == TOOLS
    assert s["echo"] == [f"hello {i}" for i in range(calls)]
    assert s["ticks"]["result"] == "ticked 3"
    assert s["resource"] == NOTE
    assert s["calls"] == calls + 1
    if streamed:  # SSE responses carry the notifications that ticks sends
        assert s["ticks"]["progress"] == [1, 2, 3]
        assert s["ticks"]["logs"] == ["tick 1/3", "tick 2/3", "tick 3/3"]


@pytest.mark.parametrize("mode", ["stateful", "stateless", "json"])
def test_py_client_streamable(servers, mode):
    s = ok(run_py_client(servers[mode], calls=3))
    check_common(s, calls=3, streamed=(mode != "json"))
    assert s["protocol_version"] == "2025-11-25"
    assert s["server"] == "mcpsniff-py-server"
    if mode == "stateless":
        assert s["session_id"] is None
    else:
        assert s["session_id"] and all(0x21 <= ord(c) <= 0x7E for c in s["session_id"])


def test_py_client_legacy_sse(servers):
    s = ok(run_py_client(servers["legacy"], transport="sse", calls=2))
    check_common(s, calls=2, streamed=True)
    assert s["transport"] == "sse"
    assert "session_id" not in s  # the legacy session lives in the endpoint URL, not a header


@pytest.mark.parametrize("mode", ["stateful", "stateless", "json"])
def test_ts_client(servers, mode):
    s = ok(run_ts_client(servers[mode], calls=2))
    check_common(s, calls=2, streamed=(mode != "json"))
    assert s["protocol_version"] == "2025-11-25"
    assert (s["session_id"] is None) == (mode == "stateless")


@pytest.mark.parametrize("mode", ["stateful", "json"])
def test_seed_client_reproduces_the_bug(servers, mode):
    s = ok(run_seed_client(servers[mode], tool_calls=3))
    ctrl, tool = s["planes"]["ctrl"], s["planes"]["tool"]
    assert ctrl["user_agent"] == "openai-mcp/1.0.0 (ChatGPT)" and tool["user_agent"] == "openai-mcp/1.0.0"
    assert ctrl["session_id"] and tool["session_id"] and ctrl["session_id"] != tool["session_id"]
    assert [r["method"] for r in ctrl["requests"]] == [
        "initialize", "notifications/initialized", "tools/list", "resources/read"
    ]
    assert ctrl["statuses"] == [200, 202, 200, 200]
    assert all(r["sent_session_id"] for r in ctrl["requests"][1:])
    assert s["tools"] == TOOLS and s["resource"] == NOTE
    # TOOL plane: initialized carries the header, the tool calls do not; the SDK's stateful server says 400
    assert tool["statuses"] == [200, 202, 400, 400, 400]
    assert tool["requests"][1]["sent_session_id"] is True
    calls = tool["requests"][2:]
    assert [r["method"] for r in calls] == ["tools/call"] * 3
    assert not any(r["sent_session_id"] for r in calls)
    assert all("session" in (r.get("error") or "").lower() for r in calls)
    assert s["echo"] == [None, None, None]


@pytest.mark.parametrize("mode", ["stateful", "json"])
def test_seed_client_fixed(servers, mode):
    s = ok(run_seed_client(servers[mode], tool_calls=2, fix=True))
    tool = s["planes"]["tool"]
    assert tool["statuses"] == [200, 202, 200, 200]
    assert all(r["sent_session_id"] for r in tool["requests"][1:])
    assert s["echo"] == ["seed 0", "seed 1"]


def test_seed_client_against_stateless_server(servers):
    # no session is issued, so nothing can be dropped: every call goes through
    s = ok(run_seed_client(servers["stateless"], tool_calls=2))
    assert s["planes"]["ctrl"]["session_id"] is None and s["planes"]["tool"]["session_id"] is None
    assert s["planes"]["tool"]["statuses"] == [200, 202, 200, 200]
    assert s["echo"] == ["seed 0", "seed 1"]


def test_clients_against_ts_server(ts_url):
    py = ok(run_py_client(ts_url, calls=2))
    ts = ok(run_ts_client(ts_url, calls=2))
    for s in (py, ts):
        check_common(s, calls=2, streamed=True)
        assert s["server"] == "mcpsniff-ts-server" and s["session_id"]
    assert py["session_id"] != ts["session_id"]


def test_seed_client_against_ts_server(ts_url):
    bug = ok(run_seed_client(ts_url, tool_calls=2))
    assert bug["planes"]["tool"]["session_id"] and bug["planes"]["tool"]["statuses"] == [200, 202, 400, 400]
    fixed = ok(run_seed_client(ts_url, tool_calls=2, fix=True))
    assert fixed["planes"]["tool"]["statuses"] == [200, 202, 200, 200]
    assert fixed["echo"] == ["seed 0", "seed 1"]


def test_modern_client_speaks_2026(modern_url):
    s = ok(run_modern_client(modern_url))
    check_common(s, calls=1, streamed=True)
    assert s["protocol_version"] == "2026-07-28"
    assert s["mode"] == "2026-07-28"


def test_modern_server_still_serves_handshake_clients(modern_url):
    s = ok(run_py_client(modern_url, calls=1))
    check_common(s, calls=1, streamed=True)
    assert s["protocol_version"] == "2025-11-25" and s["session_id"]


def test_modern_client_auto_falls_back_to_handshake_on_1x_server(servers):
    run = run_client([str(MCP2_PY), str(PEERS / "modern_client.py"), "--url", servers["stateful"], "--mode", "auto"])
    s = ok(run)
    check_common(s, calls=1, streamed=True)
    assert s["protocol_version"] == "2025-11-25"


def test_failed_client_reports_one_json_line():
    port = free_port()  # nothing listens there
    run = run_py_client(f"http://127.0.0.1:{port}/mcp", calls=1, timeout=30)
    assert run.returncode == 1
    assert run.summary is not None and run.summary["ok"] is False and run.summary["error"]
    assert len(run.stdout.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_server_that_fails_to_start_shows_its_stderr():
    argv = [_python(), str(PEERS / "py_server.py"), "--mode", "stateful", "--port", "0"]
    with pytest.raises(RuntimeError, match="port out of range"):
        with _server(argv, free_port(), "unused"):
            pass


def test_server_is_gone_after_the_context():
    with py_server("stateful") as url:
        port = urlsplit(url).port
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
