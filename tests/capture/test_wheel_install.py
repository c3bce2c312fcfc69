"""From a pip install of the built wheel in a fresh virtualenv: the README's mitmdump route works.

Builds the wheel (``pip wheel --no-deps``), installs it into a new venv without the system's
site-packages (its dependencies come from the package index), then runs, through bash and
exactly as docs/capture.md writes it::

    mitmdump -s "$(mcpsniff addon-path)" --mode reverse:URL --set mcpsniff_output=FILE

in front of the real Python SDK server, with the real SDK client talking through it, and
analyses the recording with that venv's ``mcpsniff``.  Needs the package index (pip).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import peerlib

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(ROOT)])
    [wheel] = (tmp / "dist").glob("mcpsniff-*.whl")
    base = getattr(sys, "_base_executable", None) or sys.executable  # a venv of the real interpreter, not of .venv
    sh([base, "-m", "venv", str(tmp / "venv")])
    py = tmp / "venv" / "bin" / "python"
    sh([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], timeout=1100)
    return tmp / "venv"


def test_the_wheel_ships_the_addon_and_mitmdump_records_a_real_sdk_session(venv, tmp_path):
    bin_ = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_}{os.pathsep}{env.get('PATH', '')}"
    path = sh(["mcpsniff", "addon-path"], env=env, cwd=tmp_path).stdout.strip()
    assert Path(path).is_file() and Path(path).is_relative_to(venv), path  # the installed copy, not the clone's

    out, port = tmp_path / "wheel.jsonl", peerlib.free_port()
    with peerlib.py_server("stateful") as url:
        u = urlsplit(url)
        cmd = (f'mitmdump -q -s "$(mcpsniff addon-path)" --mode reverse:{u.scheme}://{u.netloc} '
               f"--listen-host 127.0.0.1 --listen-port {port} --set connection_strategy=lazy --set mcpsniff_output={out}")
        proxy = subprocess.Popen(["bash", "-c", f"exec {cmd}"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            peerlib._wait_listening(proxy, port, tmp_path / "none")
            run = peerlib.run_py_client(f"http://127.0.0.1:{port}{u.path}", calls=2)
            assert run.returncode == 0 and run.summary, run.stderr
        finally:
            proxy.send_signal(signal.SIGTERM)
            _, err = proxy.communicate(timeout=60)
    lines = [json.loads(x) for x in out.read_bytes().splitlines()]
    assert lines[0]["kind"] == "meta" and lines[0]["mcpsniff"]
    methods = [(x["req"]["body"]["rpc"] or [{}])[0].get("method") for x in lines if x["kind"] == "exchange" and x["req"]["body"]]
    assert methods.count("initialize") == 1 and methods.count("tools/call") == run.summary["calls"], err
    doc = json.loads(subprocess.run([str(bin_ / "mcpsniff"), "analyze", str(out), "-f", "json", "--fail-on", "never"],
                                    capture_output=True, text=True, check=True).stdout)
    [plane] = doc["planes"]
    assert plane["user_agent"].startswith("python-httpx") and plane["verdict"] == "ok"
    assert plane["sessions_issued"] == 1 and plane["session_header"]["dropped"] == 0
