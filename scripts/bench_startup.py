"""Start-up time: ``mcpsniff --version`` and the analysis of a small capture beside the import
floors of the libraries the CLI cannot do without.

    .venv/bin/python scripts/bench_startup.py [--runs N] [--capture FILE] [--source DIR]

Each command runs once to warm the page cache, then N times; the median wall time is shown with
its ratio to a floor (``mcpsniff --version`` against ``import typer, rich``; ``analyze`` against
``import duckdb, typer, rich``).  Exit 1 when a ratio is over its target (1.5x, 2.0x).
``--source DIR`` times the mcpsniff package of another checkout (``python -m mcpsniff`` with
DIR first on the path), to compare a change with the code before it.

The package's bytecode is compiled first, as ``pip install`` does and as Python's first run of a
fresh clone does: the libraries the floors import are timed from their compiled bytecode, and an
environment with ``PYTHONDONTWRITEBYTECODE`` would otherwise time mcpsniff compiling its source on
every run.
"""

from __future__ import annotations

import argparse
import compileall
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


def once(cmd: list[str], source: str | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; output is discarded."""
    env = {**os.environ, "COLUMNS": "140"}
    if source:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # from the source directory: ``python -m`` puts the working directory first on the path
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False, cwd=source or None)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def medians(cmds: list[tuple[list[str], str | None]], runs: int) -> list[tuple[float, float]]:
    """Median wall and CPU seconds of each command over ``runs`` rounds (after one warm-up round).
    The commands take turns within a round, so that a load coming and going on the machine
    weighs on all of them alike (CPU time hardly moves with it)."""
    got: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for i in range(runs + 1):
        for k, (cmd, source) in enumerate(cmds):
            t = once(cmd, source)
            if i:
                got[k].append(t)
    return [(statistics.median(w for w, _ in g), statistics.median(c for _, c in g)) for g in got]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--capture", default=str(ROOT / "samples" / "seed-two-planes.jsonl"))
    ap.add_argument("--source", help="time the mcpsniff package of this checkout instead")
    args = ap.parse_args()
    me = [sys.executable, "-m", "mcpsniff"] if args.source else mcpsniff_command()
    package = Path(args.source or ROOT) / "mcpsniff"
    if not args.source:
        found = subprocess.run([sys.executable, "-c", "import mcpsniff; print(mcpsniff.__file__)"], capture_output=True, text=True)
        package = Path(found.stdout.strip()).parent if found.returncode == 0 else package
    compileall.compile_dir(str(package), quiet=1)
    py = sys.executable
    rows = [
        ("python -c 'import typer, rich'", [py, "-c", "import typer, rich"], None),
        ("python -c 'import duckdb, typer, rich'", [py, "-c", "import duckdb, typer, rich"], None),
        ("mcpsniff --version", [*me, "--version"], ("--version", 0)),
        (f"mcpsniff analyze {os.path.basename(args.capture)}", [*me, "analyze", args.capture], ("analyze", 1)),
    ]
    got = dict(zip((label for label, _, _ in rows),
                   medians([(cmd, args.source if gate else None) for _, cmd, gate in rows], args.runs)))
    floors = [got[rows[0][0]], got[rows[1][0]]]
    ok = True
    what = f"the package in {args.source}" if args.source else shutil.which(me[0]) or me[0]
    print(f"median of {args.runs} runs ({what}, Python {sys.version.split()[0]}; bytecode of {package} compiled first)")
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
