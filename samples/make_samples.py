#!/usr/bin/env python3
"""Re-record the shipped samples from real traffic (see samples/README.md).

    .venv/bin/python samples/make_samples.py [NAME ...]

Each sample puts a real mitmproxy (mcpsniff.capture.Capture, reverse mode, redaction on)
between a real MCP client and a real MCP server, all on 127.0.0.1, and writes the JSONL
here. Needs scripts/setup.sh (for the TypeScript and SDK 2.x peers).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import peerlib  # noqa: E402

from mcpsniff.capture import Capture, CaptureConfig  # noqa: E402


def record(name: str, server_cm, run_client) -> None:
    out = HERE / f"{name}.jsonl"
    out.unlink(missing_ok=True)
    with server_cm as url:
        u = urlsplit(url)
        cap = Capture(CaptureConfig(output=str(out), upstream=f"{u.scheme}://{u.netloc}", listen_port=0)).start()
        try:
            run = run_client(f"http://127.0.0.1:{cap.port}{u.path}")
        finally:
            cap.join()
    if run.returncode != 0:
        raise SystemExit(f"{name}: client failed:\n{run.stdout}\n{run.stderr}")
    print(f"{name}: {sum(1 for _ in out.open('rb'))} lines")


SAMPLES = {
    # the seed bug: CTRL plane echoes its session, TOOL plane drops it on tools/call
    "seed-two-planes": lambda: record("seed-two-planes", peerlib.py_server("stateful"), lambda u: peerlib.run_seed_client(u, tool_calls=3)),
    # the same client with the TOOL plane fixed (for `mcpsniff diff`)
    "seed-fixed": lambda: record("seed-fixed", peerlib.py_server("stateful"), lambda u: peerlib.run_seed_client(u, tool_calls=3, fix=True)),
    # clean sessions from the official SDKs
    "clean-python-sdk": lambda: record("clean-python-sdk", peerlib.py_server("stateful"), lambda u: peerlib.run_py_client(u)),
    "clean-ts-client": lambda: record("clean-ts-client", peerlib.py_server("json"), lambda u: peerlib.run_ts_client(u)),
    "stateless-python-sdk": lambda: record("stateless-python-sdk", peerlib.py_server("stateless"), lambda u: peerlib.run_py_client(u)),
    "legacy-sse": lambda: record("legacy-sse", peerlib.py_server("legacy"), lambda u: peerlib.run_py_client(u, transport="sse")),
    "modern-2026-07-28": lambda: record("modern-2026-07-28", peerlib.modern_server(), lambda u: peerlib.run_modern_client(u)),
}

if __name__ == "__main__":
    for name in sys.argv[1:] or SAMPLES:
        SAMPLES[name]()
