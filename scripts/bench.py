#!/usr/bin/env python3
"""Benchmark `mcpsniff analyze` on a large synthetic capture; prints numbers, asserts nothing.

    python scripts/bench.py [--exchanges 1000000] [--file /tmp/mcpsniff-bench.jsonl]

Generates the capture once (scripts/gen_synthetic.py), then runs
`mcpsniff analyze FILE --format json` in a child process and prints its wall time
and peak resident memory (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exchanges", type=int, default=1_000_000)
    ap.add_argument("--file", default=None)
    ap.add_argument("--format", default="json", choices=["json", "table", "markdown"])
    args = ap.parse_args()
    path = Path(args.file or f"/tmp/mcpsniff-bench-{args.exchanges}.jsonl")
    if not path.exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "scripts/gen_synthetic.py"), str(path), "--exchanges", str(args.exchanges)], check=True)
        print(f"generate: {time.perf_counter() - t:.1f} s")
    size = path.stat().st_size
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mcpsniff", "analyze", str(path), "--format", args.format, "--fail-on", "never"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    wall = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stderr)
        sys.exit(proc.returncode)
    print(f"analyze: {args.exchanges:,} exchanges, {size / 1e6:.0f} MB, {wall:.2f} s wall, peak RSS {peak_kb / 1024:.0f} MB "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
