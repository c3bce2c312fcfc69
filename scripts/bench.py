#!/usr/bin/env python3
"""Where mcpsniff stands against DuckDB on big captures: prints numbers side by side, asserts nothing.

    .venv/bin/python scripts/bench.py [--sizes 100k,1M,10M] [--dir /tmp] [--runs 1] [--commands analyze,report,diff]

For each size it generates a synthetic capture once (scripts/gen_synthetic.py; 10M and up in
parts of 1M exchanges, consecutive time slices, read as one capture through a glob), then runs,
each in a child process, one after the other:

- the anchor: DuckDB ``read_json`` of the capture, grouped by User-Agent x JSON-RPC method, with
  session-header presence and sessions issued (what the issue measures against);
- ``mcpsniff analyze -f json``, ``mcpsniff report``, ``mcpsniff diff -f json FILE FILE`` (a file
  against itself: read once);
- ``read`` (only when asked for in --commands): the floor of analyze's read, DuckDB extracting the
  columns the analysis uses (the fast reader's SELECT, :mod:`mcpsniff.model.fast`) from every file
  into a table on all cores, in no order and without a memory limit -- no line numbers, no
  validation fallback, no analysis. analyze cannot be faster than this.

Each size's files are read through once before anything is timed, so that the first command (the
anchor) does not alone pay for a cold page cache (after a 10M run the 1M file is out of it: its
anchor took 5.6 s cold against 1.8-2.4 s warm).

Printed per command: wall seconds (median of --runs), the ratio to the anchor (analyze, read) or to
analyze (report, diff), and the child's peak RSS (``wait4``). The machine's load is printed too:
on a shared machine compare ratios of one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PART = 1_000_000  # exchanges per generated part

ANCHOR_SQL = """
WITH x AS (
  SELECT list_filter(req.headers, lambda h: lower(h[1]) = 'user-agent')[1][2] AS ua,
         req.body.rpc[1].method AS method,
         len(list_filter(req.headers, lambda h: lower(h[1]) = 'mcp-session-id')) > 0 AS has_sid,
         coalesce(req.body.rpc[1].method = 'initialize' AND resp.status BETWEEN 200 AND 299
           AND len(list_filter(resp.headers, lambda h: lower(h[1]) = 'mcp-session-id')) > 0, false) AS issued
  FROM read_json({files}, format='newline_delimited', columns={{
     'req': 'STRUCT(headers VARCHAR[][], body STRUCT(rpc STRUCT(method VARCHAR)[]))',
     'resp': 'STRUCT(status INTEGER, headers VARCHAR[][])'}})
)
SELECT ua, method, count(*) n, sum(has_sid::int) with_sid, sum(issued::int) issued FROM x GROUP BY ALL ORDER BY ALL
"""


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1], 1)
    return int(float(s.rstrip("km")) * mult)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def capture(n: int, directory: Path) -> tuple[list[Path], str]:
    """The capture's files (generated when missing) and the pattern naming them all."""
    gen = [sys.executable, str(ROOT / "scripts" / "gen_synthetic.py")]
    if n <= PART:
        path = directory / f"mcpsniff-bench-{n}.jsonl"
        if not path.exists():
            subprocess.run([*gen, str(path), "--exchanges", str(n)], check=True, stdout=subprocess.DEVNULL)
        return [path], str(path)
    parts = []
    for i in range((n + PART - 1) // PART):
        path = directory / f"mcpsniff-bench-{label(n)}" / f"cap.{i}.jsonl"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            k = min(PART, n - i * PART)
            subprocess.run([*gen, str(path), "--exchanges", str(k), "--start", str(i * PART), "--seed", str(7 + i)],
                           check=True, stdout=subprocess.DEVNULL)
        parts.append(path)
    return parts, str(parts[0].parent / "cap.*.jsonl")


def run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_maxrss / 1024


def warm(files: list[Path]) -> None:
    """Read the files once (into the page cache)."""
    buf = bytearray(1 << 22)
    for f in files:
        with open(f, "rb", buffering=0) as fo:
            while fo.readinto(buf):
                pass


def anchor_argv(files: list[Path]) -> list[str]:
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    code = f"import duckdb; duckdb.connect().execute({ANCHOR_SQL.format(files=listed)!r}).fetchall()"
    return [sys.executable, "-c", code]


READ_FLOOR = """
import sys, duckdb
from mcpsniff.model.fast import insert_sql
from mcpsniff.model.store import is_gzip
con = duckdb.connect(config={"preserve_insertion_order": False})
for i, name in enumerate(sys.argv[1:]):
    sql = insert_sql(name, is_gzip(name))
    con.execute((f"INSERT INTO t {sql}" if i else f"CREATE TABLE t AS {sql}"), [i])
"""


def read_floor_argv(files: list[Path]) -> list[str]:
    return [sys.executable, "-c", READ_FLOOR, *map(str, files)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1M", help="comma-separated exchange counts (k, M suffixes); 10M needs ~11 GB of disk")
    ap.add_argument("--dir", default="/tmp", help="where generated captures are kept between runs")
    ap.add_argument("--runs", type=int, default=1, help="runs per command (the median is printed)")
    ap.add_argument("--commands", default="analyze,report,diff")
    args = ap.parse_args()
    commands = args.commands.split(",")
    mcpsniff = [sys.executable, "-m", "mcpsniff"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"MCPSNIFF_MEMORY_LIMIT={os.environ.get('MCPSNIFF_MEMORY_LIMIT', '(default)')}")
    header = f"{'exchanges':>9} {'files':>5} {'MB':>6} | {'anchor s':>8} {'MiB':>5} | " + " | ".join(
        f"{c + ' s':>10} {'ratio':>6} {'MiB':>5}" for c in commands)
    print(header)
    print("-" * len(header))
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        files, pattern = capture(size, Path(args.dir))
        mb = sum(f.stat().st_size for f in files) / 1e6
        argvs = {
            "analyze": [*mcpsniff, "analyze", pattern, "-f", "json", "--fail-on", "never"],
            "report": [*mcpsniff, "report", pattern, "-o", os.devnull],
            "diff": [*mcpsniff, "diff", pattern, pattern, "-f", "json"],
            "read": read_floor_argv(files),
        }
        results: dict[str, tuple[float, float]] = {}
        warm(files)
        for name, argv in [("anchor", anchor_argv(files))] + [(c, argvs[c]) for c in commands]:
            samples = [run(argv) for _ in range(args.runs)]
            results[name] = (statistics.median(s[0] for s in samples), max(s[1] for s in samples))
        a_wall, a_rss = results["anchor"]
        base = results.get("analyze", (a_wall, 0))[0]
        cells = []
        for c in commands:
            wall, rss = results[c]
            ratio = wall / (a_wall if c in ("analyze", "read") else base)
            cells.append(f"{wall:>10.2f} {ratio:>5.2f}x {rss:>5.0f}")
        print(f"{size:>9,} {len(files):>5} {mb:>6.0f} | {a_wall:>8.2f} {a_rss:>5.0f} | " + " | ".join(cells), flush=True)
    print("ratio: analyze and read / anchor; report and diff / analyze")


if __name__ == "__main__":
    main()
