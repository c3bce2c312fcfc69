"""Start-up time: ``mcpsniff --version`` and the analysis of a small capture beside the import
floors of the libraries the CLI cannot do without.

    .venv/bin/python scripts/bench_startup.py [--runs N] [--capture FILE] [--source DIR]

Each command runs once to warm the page cache, then N times; the median wall time is shown with
its ratio to a floor (``mcpsniff --version`` against ``import typer, rich``; ``analyze`` against
``import duckdb, typer, rich``).  Exit 1 when a ratio is over its target (1.5x, 2.0x).
``--source DIR`` times the mcpsniff package of another checkout (``python -m mcpsniff`` with
DIR first on the path), to compare a change with the code before it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"--version": 1.5, "analyze": 2.0}


def mcpsniff_command() -> list[str]:
    """The installed console script beside this interpreter (what a user runs), else ``python -m``."""
    script = Path(sys.executable).with_name("mcpsniff")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcpsniff"]


def wall(cmd: list[str], runs: int, source: str | None = None) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of ``runs`` runs (after one warm-up run);
    output is discarded. CPU time hardly moves when other programs load the machine."""
    env = {**os.environ, "COLUMNS": "140"}
    if source:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    times, cpus = [], []
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        # from the source directory: ``python -m`` puts the working directory first on the path
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False, cwd=source or None)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:
            times.append(time.perf_counter() - t)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--capture", default=str(ROOT / "samples" / "seed-two-planes.jsonl"))
    ap.add_argument("--source", help="time the mcpsniff package of this checkout instead")
    args = ap.parse_args()
    me = [sys.executable, "-m", "mcpsniff"] if args.source else mcpsniff_command()
    py = sys.executable
    rows = [
        ("python -c 'import typer, rich'", [py, "-c", "import typer, rich"], None),
        ("python -c 'import duckdb, typer, rich'", [py, "-c", "import duckdb, typer, rich"], None),
        ("mcpsniff --version", [*me, "--version"], ("--version", 0)),
        (f"mcpsniff analyze {os.path.basename(args.capture)}", [*me, "analyze", args.capture], ("analyze", 1)),
    ]
    got = {label: wall(cmd, args.runs, args.source if gate else None) for label, cmd, gate in rows}
    floors = [got[rows[0][0]], got[rows[1][0]]]
    ok = True
    what = f"the package in {args.source}" if args.source else shutil.which(me[0]) or me[0]
    print(f"median of {args.runs} runs ({what}, Python {sys.version.split()[0]})")
    print(f"{'':46} {'wall':>7}   {'cpu':>7}")
    for label, _, gate in rows:
        line = f"  {label:<44} {got[label][0]:6.3f} s {got[label][1]:6.3f} s"
        if gate:
            name, floor = gate
            ratio = got[label][0] / floors[floor][0]
            cpu_ratio = got[label][1] / floors[floor][1]
            target = TARGETS[name]
            ok &= ratio <= target
            line += (f"  {ratio:4.2f}x (cpu {cpu_ratio:4.2f}x) {rows[floor][0][len('python -c '):]} "
                     f"(target <= {target}x){'' if ratio <= target else ', OVER'}")
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
