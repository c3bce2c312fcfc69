"""Start the real MCP peers in tests/peers/ and run them, for tests.

Servers run as child processes bound to 127.0.0.1 on a free port; `py_server(mode)` and
`modern_server()` wait until the port accepts connections, yield the endpoint URL and stop the
server afterwards (SIGTERM, then SIGKILL). Clients run to completion and come back as a
`ClientRun` whose `summary` is the JSON line the client printed (None if there was none).

A missing environment (.venv, .venv-mcp2, tests/peers/ts/node_modules) raises RuntimeError
telling you to run scripts/setup.sh; nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
PEERS = ROOT / "tests" / "peers"
VENV_PY = ROOT / ".venv" / "bin" / "python"
MCP2_PY = ROOT / ".venv-mcp2" / "bin" / "python"
TS_DIR = PEERS / "ts"
PY_SERVER_MODES = ("stateful", "stateless", "json", "legacy")
START_TIMEOUT = 20.0
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
#: the process id of each running server, by the URL its context manager yielded (for benchmarks)
SERVER_PIDS: dict[str, int] = {}


@dataclass
class ClientRun:
    returncode: int
    stdout: str
    stderr: str
    summary: dict | None
    seconds: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need(path: Path, what: str) -> None:
    if not path.exists():
        raise RuntimeError(f"{what} is missing ({path}); run scripts/setup.sh")


def _python() -> str:
    # the project venv if there is one, else the interpreter running the tests (CI may use its own)
    return str(VENV_PY) if VENV_PY.exists() else sys.executable


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """os.environ plus `env`. Proxy variables are never inherited (an ambient HTTP_PROXY or a
    NO_PROXY listing 127.0.0.1 would silently reroute or bypass a test proxy); pass them in `env`."""
    merged = {k: v for k, v in os.environ.items() if k.upper() not in _PROXY_VARS}
    merged["PYTHONUNBUFFERED"] = "1"
    merged.update(env or {})
    return merged


def _wait_listening(proc: subprocess.Popen, port: int, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not listening after {timeout:.0f}s"
    raise RuntimeError(f"server {' '.join(map(str, proc.args))} {state}; its stderr:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def _server(argv: list[str], port: int, url: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mcpsniff-peer-") as tmp:
        log = Path(tmp) / "server.stderr"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=_child_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        try:
            _wait_listening(proc, port, log)
            SERVER_PIDS[url] = proc.pid
            yield url
        finally:
            SERVER_PIDS.pop(url, None)
            _stop(proc)


@contextmanager
def py_server(mode: str, tls: tuple[Path, Path] | None = None, sniff: Path | None = None, server: str = "uvicorn",
              workers: int = 1, sniff_toggle: bool = False) -> Iterator[str]:
    """Run tests/peers/py_server.py (SDK 1.x) in `mode`; yield its endpoint URL.

    ``tls=(cert, key)`` serves HTTPS with that certificate (see :func:`self_signed`). ``sniff=PATH``
    records in-process with mcpsniff's ASGI middleware (files PATH.pid<PID>.jsonl, complete once the
    context has exited: the server is stopped gracefully). ``server="hypercorn"`` serves with
    Hypercorn; ``workers=N`` runs N uvicorn worker processes; ``sniff_toggle`` records only after
    SIGUSR1, until SIGUSR2."""
    if mode not in PY_SERVER_MODES:
        raise ValueError(f"mode must be one of {PY_SERVER_MODES}, not {mode!r}")
    port = free_port()
    path = "/sse" if mode == "legacy" else "/mcp"
    argv = [_python(), str(PEERS / "py_server.py"), "--mode", mode, "--port", str(port)]
    if tls:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    if sniff:
        argv += ["--sniff", str(sniff)] + (["--sniff-toggle"] if sniff_toggle else [])
    if server != "uvicorn" or workers != 1:
        argv += ["--server", server, "--workers", str(workers)]
    scheme = "https" if tls else "http"
    with _server(argv, port, f"{scheme}://127.0.0.1:{port}{path}") as url:
        yield url


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (cert.pem, key.pem) in `directory`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpsniff test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start_capture(args: list[str], cwd: Path, python: str | None = None) -> tuple[subprocess.Popen, int]:
    """Start `mcpsniff capture --listen-port 0 --quiet ARGS` and return it with the port it listens on."""
    import re

    proc = subprocess.Popen([python or _python(), "-m", "mcpsniff", "capture", "--listen-port", "0", "--quiet", *args],
                            cwd=cwd, env=_child_env(None), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"mcpsniff capture did not start: {line}{proc.stderr.read()}")
    return proc, int(m.group(1))


def stop_capture(proc: subprocess.Popen, timeout: float = 30) -> str:
    """SIGINT a capture started by :func:`start_capture`; return what it printed on stderr."""
    import signal

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=timeout)
    return proc.stderr.read()  # read through the file object: readline() may have buffered lines


@contextmanager
def modern_server(sniff: Path | None = None) -> Iterator[str]:
    """Run tests/peers/modern_server.py (SDK 2.x, speaks 2026-07-28 and the handshake era); yield its URL.

    ``sniff=PATH`` records in-process with mcpsniff's ASGI middleware, imported from this checkout
    (.venv-mcp2 has no mcpsniff and no mitmproxy; of mcpsniff's dependencies the middleware needs
    only orjson, which scripts/setup.sh installs there)."""
    _need(MCP2_PY, "the SDK 2.x environment .venv-mcp2")
    port = free_port()
    argv = [str(MCP2_PY), str(PEERS / "modern_server.py"), "--port", str(port)]
    if sniff:
        argv += ["--sniff", str(sniff)]
    with _server(argv, port, f"http://127.0.0.1:{port}/mcp", env={"PYTHONPATH": str(ROOT)} if sniff else None) as url:
        yield url


@contextmanager
def ts_server() -> Iterator[str]:
    """Run tests/peers/ts/server.mjs (TypeScript SDK 1.x, stateful Streamable HTTP); yield its URL."""
    _need_node()
    port = free_port()
    with _server(["node", str(TS_DIR / "server.mjs"), "--port", str(port)], port, f"http://127.0.0.1:{port}/mcp") as url:
        yield url


def _need_node() -> None:
    _need(TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk", "the TypeScript SDK (tests/peers/ts/node_modules)")
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH; install Node.js >= 20.18 and run scripts/setup.sh")


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def run_client(argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 60) -> ClientRun:
    """Run any client command line; a client that outlives `timeout` is killed (returncode -9)."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=ROOT, env=_child_env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed the child
        code = -9
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or ""))
        err += f"\n[peerlib] killed after {timeout}s"
    return ClientRun(code, out, err, _last_json_line(out), time.monotonic() - start)


def run_py_client(url, transport="streamable", calls=2, env=None, timeout=60) -> ClientRun:
    argv = [_python(), str(PEERS / "py_client.py"), "--url", url, "--transport", transport, "--calls", str(calls)]
    return run_client(argv, env, timeout)


def run_ts_client(url, calls=2, env=None, timeout=60) -> ClientRun:
    _need_node()
    return run_client(["node", str(TS_DIR / "client.mjs"), url, "--calls", str(calls)], env, timeout)


def run_modern_client(url, env=None, timeout=60) -> ClientRun:
    _need(MCP2_PY, "the SDK 2.x environment .venv-mcp2")
    return run_client([str(MCP2_PY), str(PEERS / "modern_client.py"), "--url", url], env, timeout)


def run_seed_client(url, tool_calls=3, fix=False, env=None, timeout=60) -> ClientRun:
    argv = [_python(), str(PEERS / "seed_client.py"), "--url", url, "--tool-calls", str(tool_calls)]
    if fix:
        argv.append("--fix")
    return run_client(argv, env, timeout)
