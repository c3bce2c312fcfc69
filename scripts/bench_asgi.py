#!/usr/bin/env python3
"""Requests/s of a FastMCP server with and without MCPSniffMiddleware, in one run; prints numbers,
asserts nothing.

    .venv/bin/python scripts/bench_asgi.py [--pairs 3] [--rounds 10] [--seconds 1] [--mode stateful|json|stateless]
                                           [--server uvicorn|hypercorn] [--connections 8] [--no-pin] [--aa]
                                           [--two-processes]

Starts tests/peers/py_server.py (the official Python SDK 1.x FastMCP server under uvicorn) wrapped by
the middleware (--sniff: redaction on, default options) with ``--sniff-toggle``: the same process serves
past the middleware (without) or through it (with), switched by a signal before each round. One
session (``initialize``); then keep-alive connections send ``tools/call echo`` with the session id as
fast as the server answers. ``echo`` is the cheapest tool there is, so the middleware's share of the
work is as large as it gets. ``--two-processes`` (and ``--server hypercorn``) starts two servers
instead, a plain one and a wrapped one; two processes of the same program can differ by several per
cent for the whole of their lives (``--aa --two-processes`` shows it), which one process switched
between the two states does not.

Measuring a few per cent on a shared 2-core VM needs care, so:

- the servers are pinned to one core and this load generator (a small asyncio HTTP/1.1 client) to the
  other (``--no-pin`` to not); the load generator stays far below 100 % of its core;
- without and with are loaded in turn, A B B A ..., in short rounds: the machine's drifts hit both;
- ``--pairs`` fresh server processes (or pairs of them);
- besides requests/s, each server's own CPU time per request (all its threads, the writer thread
  included, from /proc/PID/task/*/schedstat), which other processes on the machine hardly change:
  "requests/s per server core" = 1 s / that;
- ratios are medians of the paired rounds, with quartiles; ``--aa`` never switches the middleware on
  (or runs two plain servers), to show the noise floor of the machine at hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import peerlib  # noqa: E402

PV = "2025-11-25"


def request(path: str, host: str, body: dict, session: str | None) -> bytes:
    data = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "User-Agent: mcpsniff-bench/1",
            "Accept: application/json, text/event-stream", "Content-Type: application/json",
            f"Content-Length: {len(data)}", f"MCP-Protocol-Version: {PV}"]
    if session:
        head.append(f"Mcp-Session-Id: {session}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: status, headers (lower-case names), body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def open_session(host: str, port: int, path: str) -> str | None:
    reader, writer = await asyncio.open_connection(host, port)
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": PV, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    writer.write(request(path, f"{host}:{port}", init, None))
    status, headers, _ = await read_response(reader)
    if status != 200:
        raise SystemExit(f"initialize failed: {status}")
    session = headers.get("mcp-session-id")
    writer.write(request(path, f"{host}:{port}", {"jsonrpc": "2.0", "method": "notifications/initialized"}, session))
    await read_response(reader)
    writer.close()
    return session


async def load(url: str, session: str | None, seconds: float, connections: int) -> tuple[int, list[float]]:
    """Tool calls answered within `seconds`, and their latencies."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    host, port, path = u.hostname, u.port, u.path
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    failures = 0

    async def worker(n: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            call = {"jsonrpc": "2.0", "id": n * 1_000_000 + i, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": "bench"}}}
            t = time.perf_counter()
            writer.write(request(path, f"{host}:{port}", call, session))
            status, _, body = await read_response(reader)
            if status != 200 or b'"result"' not in body:
                failures += 1
            else:
                latencies.append(time.perf_counter() - t)
        writer.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    if failures:
        print(f"  warning: {failures} calls failed", file=sys.stderr)
    return len(latencies), latencies


def server_cpu_ns(pid: int) -> tuple[int, int]:
    """CPU time the server process has used in ns: all its threads, and its threads other than the
    main one (the event loop's); with the middleware, that is the writer thread."""
    total = others = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        total += ns
        if task.name != str(pid):
            others += ns
    return total, others


def measure(url: str, session: str | None, seconds: float,
            connections: int) -> tuple[float, float, float, float, float]:
    """(requests/s, median latency ms, this process's CPU share, server CPU us per request, of which
    threads other than the event loop's) of one round."""
    pid = peerlib.SERVER_PIDS[url]
    cpu0, t0, (s0, o0) = time.process_time(), time.perf_counter(), server_cpu_ns(pid)
    n, lat = asyncio.run(load(url, session, seconds, connections))
    wall = time.perf_counter() - t0
    s1, o1 = server_cpu_ns(pid)
    per = 1000 * max(n, 1)
    return (n / wall, statistics.median(lat) * 1000 if lat else float("nan"), (time.process_time() - cpu0) / wall,
            (s1 - s0) / per, (o1 - o0) / per)


def run_pair(args: argparse.Namespace, tmp: Path, pair: int, cores: list[int], pin: bool) -> dict[str, list[tuple]]:
    """One fresh pair of servers, loaded in turn for ``args.rounds`` rounds each."""
    out = tmp / f"bench{pair}.jsonl"
    if pin:  # the servers (started now, they inherit this) on one core, the load generator on another
        os.sched_setaffinity(0, {cores[-1]})
    sniff = None if args.aa else out
    with peerlib.py_server(args.mode, server=args.server) as plain, \
            peerlib.py_server(args.mode, server=args.server, sniff=sniff) as sniffed:
        if pin:
            os.sched_setaffinity(0, {cores[0]})
        urls = {"without": plain, "with": sniffed}
        sessions = {k: asyncio.run(open_session("127.0.0.1", int(u.split(":")[2].split("/")[0]), "/mcp"))
                    for k, u in urls.items()}
        for k, u in urls.items():  # warm-up: imports, caches, first-call paths
            measure(u, sessions[k], args.warmup, args.connections)
        rows: dict[str, list[tuple]] = {"without": [], "with": []}
        for r in range(args.rounds):
            order = ("without", "with") if r % 2 == 0 else ("with", "without")  # A B, B A, ...
            for k in order:
                rows[k].append(measure(urls[k], sessions[k], args.seconds, args.connections))
    return rows


def run_toggled(args: argparse.Namespace, tmp: Path, pair: int, cores: list[int], pin: bool) -> dict[str, list[tuple]]:
    """One fresh server process with the middleware switched off and on by signals (``--sniff-toggle``),
    loaded for ``args.rounds`` rounds in each state, in turn."""
    if pin:
        os.sched_setaffinity(0, {cores[-1]})
    with peerlib.py_server(args.mode, server=args.server, sniff=tmp / f"bench{pair}.jsonl", sniff_toggle=True) as url:
        if pin:
            os.sched_setaffinity(0, {cores[0]})
        pid = peerlib.SERVER_PIDS[url]
        state = {"without": signal.SIGUSR2, "with": signal.SIGUSR2 if args.aa else signal.SIGUSR1}

        def switch(k: str) -> None:
            os.kill(pid, state[k])
            time.sleep(0.1)  # the writer thread writes what the last round left before this one is timed

        session = asyncio.run(open_session("127.0.0.1", int(url.split(":")[2].split("/")[0]), "/mcp"))
        for k in ("without", "with"):  # warm-up: imports, caches, first-call paths
            switch(k)
            measure(url, session, args.warmup, args.connections)
        rows: dict[str, list[tuple]] = {"without": [], "with": []}
        for r in range(args.rounds):
            for k in (("without", "with") if r % 2 == 0 else ("with", "without")):  # A B, B A, ...
                switch(k)
                rows[k].append(measure(url, session, args.seconds, args.connections))
    return rows


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(median, first quartile, third quartile)"""
    q = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return q[1], q[0], q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("stateful", "json", "stateless"), default="stateful")
    ap.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    ap.add_argument("--pairs", type=int, default=3, help="fresh pairs of server processes")
    ap.add_argument("--rounds", type=int, default=10, help="rounds per server and pair")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of a round")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the servers to one core and the load generator to another")
    ap.add_argument("--two-processes", dest="toggle", action="store_false",
                    help="a plain server and a wrapped one (default: one server, the middleware switched on "
                         "and off between rounds)")
    ap.add_argument("--aa", action="store_true", help="both servers without the middleware: the noise floor")
    args = ap.parse_args()

    if args.server != "uvicorn":  # --sniff-toggle is a uvicorn-only option of the test server
        args.toggle = False
    cores = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cores) >= 2
    a: list[tuple] = []
    b: list[tuple] = []
    per_pair = []
    with tempfile.TemporaryDirectory(prefix="mcpsniff-bench-") as tmp:
        for pair in range(args.pairs):
            rows = (run_toggled if args.toggle else run_pair)(args, Path(tmp), pair, cores, pin)
            a += rows["without"]
            b += rows["with"]
            per_pair.append((quartiles([y[0] / x[0] for x, y in zip(rows["without"], rows["with"])])[0],
                             quartiles([x[3] / y[3] for x, y in zip(rows["without"], rows["with"])])[0]))
        files = list(Path(tmp).glob("bench*.pid*.jsonl"))
        recorded = sum(sum(1 for line in f.open("rb") if b'"kind":"exchange"' in line) for f in files)
        size = sum(f.stat().st_size for f in files)

    label = "plain#2" if args.aa else "with"
    print(f"FastMCP (mcp {_version('mcp')}, {args.server} {_version(args.server)}), {args.mode} mode, tools/call echo, "
          f"{args.connections} keep-alive connections, "
          + (f"{args.pairs} server processes, the middleware switched on and off, " if args.toggle else
             f"{args.pairs} server pairs x ")
          + f"{args.rounds} rounds x "
          f"{args.seconds:g} s, python {platform.python_version()}, {os.cpu_count()} cores"
          + (f", servers pinned to core {cores[-1]}, load generator to core {cores[0]}" if pin else ""))
    rps = quartiles([y[0] / x[0] for x, y in zip(a, b)])
    cpu = quartiles([x[3] / y[3] for x, y in zip(a, b)])
    med = lambda rs, i: statistics.median(r[i] for r in rs)  # noqa: E731
    print(f"{'':28}{'without':>9}{label:>9}{'ratio':>8}   median of {len(a)} paired rounds (quartiles)")
    print(f"{'requests/s':28}{med(a, 0):>9.0f}{med(b, 0):>9.0f}{rps[0]:>8.3f}   ({rps[1]:.3f} .. {rps[2]:.3f})")
    print(f"{'requests/s per server core':28}{1e6 / med(a, 3):>9.0f}{1e6 / med(b, 3):>9.0f}{cpu[0]:>8.3f}   "
          f"({cpu[1]:.3f} .. {cpu[2]:.3f})")
    print(f"{'server CPU per request, us':28}{med(a, 3):>9.0f}{med(b, 3):>9.0f}")
    print(f"{'  of which other threads, us':28}{med(a, 4):>9.0f}{med(b, 4):>9.0f}   (with the middleware: its writer thread)")
    print(f"{'p50 latency, ms':28}{med(a, 1):>9.2f}{med(b, 1):>9.2f}")
    print("per pair of server processes, ratio of requests/s and of requests/s per core: "
          + ", ".join(f"{x:.3f}/{y:.3f}" for x, y in per_pair))
    print(f"load generator CPU at most {max(r[2] for r in a + b) * 100:.0f} % of its core")
    if not args.aa:
        print(f"with the middleware: {recorded:,} exchanges recorded, {size / 1e6:.1f} MB")


def _version(dist: str) -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
