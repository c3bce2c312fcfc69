#!/usr/bin/env python3
"""Fuzz the readers at full count and print the figures (tests/load/test_fuzz.py runs a share in CI).

    .venv/bin/python scripts/fuzz.py [--examples 3000] [--seed 1]

Per input format (JSONL byte mutations of every sample, HAR and mitmproxy flow byte mutations,
schema-aware JSONL: one value of a real record replaced by any JSON value between valid lines),
it runs `mcpsniff analyze` in-process on each example and counts tracebacks (must be 0), exit
codes, and for the schema-aware kind whether every valid line around the bad one still counted.
Numbers, not assertions: the exit status is 1 only if a traceback was seen.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import fuzzing  # noqa: E402  (tests/fuzzing.py)

KINDS = ("jsonl", "har", "har-values", "flows", "schema-aware")


def _bases() -> dict[str, list[bytes]]:
    return {"jsonl": fuzzing.jsonl_samples(), "har": [fuzzing.har_sample()], "flows": [fuzzing.flow_sample()]}


def _schema_case(rnd: random.Random, good: list[bytes]) -> tuple[bytes, bool]:
    from hypothesis import find  # noqa: F401 - only to make sure hypothesis is there

    rec = json.loads(rnd.choice(good))
    paths = list(fuzzing.paths(rec))[1:]
    path = rnd.choice(paths)
    value = rnd.choice([None, True, False, -1, 0, 99999, 2**70, -(2**70), 1e308, -0.5, "", "x" * rnd.randint(1, 50),
                        [], {}, [1, "a"], {"a": None}, "2025-11-25", 1.5e9])
    rec = fuzzing.set_path(rec, path, value)
    from mcpsniff.schema import SchemaError, check_record

    try:
        check_record(rec)
        valid = True
    except SchemaError:
        valid = False
    return b"\n".join(good[:3] + [json.dumps(rec).encode()] + good[3:]) + b"\n", valid


def work(args: tuple[str, int, int]) -> dict:
    kind, start, count = args
    bases = _bases()
    good = [x for x in fuzzing.SAMPLES[-2].read_bytes().splitlines() if b'"kind":"exchange"' in x]
    codes: Counter = Counter()
    tracebacks: list[str] = []
    lost = 0
    for i in range(start, start + count):
        rnd = random.Random(i)
        if kind == "schema-aware":
            data, valid = _schema_case(rnd, good)
            out = fuzzing.run_analyze(data, ".jsonl")
            if out.traceback is None and out.exchanges != len(good) + valid:
                lost += 1
        elif kind == "har-values":
            data, n = fuzzing.mutate_har_values(bases["har"][0], rnd)
            out = fuzzing.run_analyze(data, ".har")
            if out.traceback is None and (out.exchanges or 0) < n - 1:  # only the mutated entry may go
                lost += 1
        else:
            base = rnd.choice(bases[kind])
            data = fuzzing.mutate(base, rnd, rnd.randint(1, 12))
            out = fuzzing.run_analyze(data, {"jsonl": ".jsonl", "har": ".har", "flows": ".flow"}[kind])
        codes[out.exit_code] += 1
        if out.traceback:
            tracebacks.append(out.traceback.splitlines()[-1])
    return {"kind": kind, "codes": dict(codes), "tracebacks": tracebacks, "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=3000, help="examples per kind")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    jobs = []
    half = args.examples // args.workers
    for kind in KINDS:
        for w in range(args.workers):
            n = half if w < args.workers - 1 else args.examples - half * (args.workers - 1)
            jobs.append((kind, args.seed * 10_000_000 + w * half, n))
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(work, jobs))
    print(f"{'kind':14} {'examples':>9} {'tracebacks':>10} {'exit 0':>7} {'exit 1':>7} {'exit 2':>7} {'valid lines lost':>17}")
    bad = 0
    for kind in KINDS:
        rs = [r for r in results if r["kind"] == kind]
        codes: Counter = Counter()
        for r in rs:
            codes.update({int(k): v for k, v in r["codes"].items()})
        tbs = [tb for r in rs for tb in r["tracebacks"]]
        bad += len(tbs)
        lost = sum(r["lost"] for r in rs) if kind in ("schema-aware", "har-values") else "-"
        print(f"{kind:14} {sum(codes.values()):>9,} {len(tbs):>10} {codes[0]:>7} {codes[1]:>7} {codes[2]:>7} {lost:>17}")
        for tb in sorted(set(tbs))[:5]:
            print(f"    traceback: {tb}")
    print(f"({time.perf_counter() - t:.0f} s, {args.workers} workers, seed {args.seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
