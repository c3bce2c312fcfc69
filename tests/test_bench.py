"""scripts/bench.py runs end to end on a tiny capture and prints one row per size (it asserts no
timings: the numbers are for people; this keeps the script from rotting)."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_prints_the_read_floor_and_analyze_beside_the_anchor(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--sizes", "2k", "--dir", str(tmp_path),
                          "--commands", "read,analyze"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    lines = out.splitlines()
    assert lines[1].split("|")[2].split() == ["read", "s", "ratio", "MiB"]
    row = next(line for line in lines if line.startswith("    2,000"))
    assert len(re.findall(r"\d+\.\d+x", row)) == 2
    assert lines[-1] == "ratio: analyze and read / anchor; report and diff / analyze"
    assert (tmp_path / "mcpsniff-bench-2000.jsonl").exists()


def test_the_read_floor_extracts_every_exchange_of_every_file(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    files, _ = bench.capture(2000, tmp_path)
    packed = tmp_path / "packed.jsonl"  # gzip under a plain name: the fast reader goes by the bytes
    packed.write_bytes(gzip.compress(files[0].read_bytes()))
    code = bench.READ_FLOOR + "\nprint(con.execute('SELECT count(*), count(DISTINCT src), count(ua) FROM t').fetchall()[0])"
    argv = bench.read_floor_argv(files + [packed])
    out = subprocess.run([argv[0], "-c", code, *argv[3:]], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "(4000, 2, 4000)"
