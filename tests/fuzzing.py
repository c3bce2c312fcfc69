"""Fuzz targets for the readers, shared by tests/load/test_fuzz.py (a fixed-seed share in CI) and
scripts/fuzz.py (the full count, with figures).

Each target takes input bytes, runs ``mcpsniff analyze`` on them in-process (Typer's CliRunner,
so exit codes are the real ones) and returns an :class:`Outcome`; a traceback is a failure of
the target, anything else is a verdict on the input.
"""

from __future__ import annotations

import copy
import io
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson
from hypothesis import strategies as st
from typer.testing import CliRunner

from mcpsniff.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples").glob("*.jsonl"))
runner = CliRunner()


@dataclass
class Outcome:
    exit_code: int
    traceback: str | None  # the exception text when the run raised
    exchanges: int | None  # exchanges analysed (exit 0/1)
    problems: int


def run_analyze(data: bytes, suffix: str) -> Outcome:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"input{suffix}"
        p.write_bytes(data)
        r = runner.invoke(app, ["analyze", str(p), "-f", "json", "--fail-on", "never"])
    tb = None
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(r.exception))
    exchanges = problems = None
    if r.exit_code in (0, 1) and tb is None:
        doc = json.loads(r.stdout)
        exchanges = doc["inputs"][0]["exchanges"]
        problems = len(doc["problems"])
    return Outcome(r.exit_code, tb, exchanges, problems or 0)


# -- byte-level mutation of real files ---------------------------------------------------------------
def mutate(data: bytes, rnd: random.Random, edits: int) -> bytes:
    b = bytearray(data)
    for _ in range(edits):
        op = rnd.random()
        i = rnd.randrange(len(b) + 1)
        if op < 0.4 and b:
            b[min(i, len(b) - 1)] = rnd.randrange(256)
        elif op < 0.7:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op < 0.9 and b:
            del b[i : i + rnd.randint(1, 16)]
        else:  # splice a chunk of the file somewhere else
            j = rnd.randrange(len(b) + 1)
            b[i:i] = b[j : j + rnd.randint(1, 64)]
    return bytes(b)


def jsonl_samples() -> list[bytes]:
    return [p.read_bytes() for p in SAMPLES]


def har_sample() -> bytes:
    """A HAR written by mitmproxy's own SaveHar from flows of the seed sample's records."""
    from mitmproxy.addons.savehar import SaveHar
    from mitmproxy.test import tflow, tutils

    flows = []
    for line in SAMPLES[-2].read_bytes().splitlines() if SAMPLES else []:
        rec = orjson.loads(line)
        if rec.get("kind") != "exchange" or not rec.get("resp"):
            continue
        body = rec["req"]["body"]
        content = orjson.dumps(body["rpc"][0] if not body.get("batch") else body["rpc"]) if body.get("rpc") else b""
        req = tutils.treq(method=rec["req"]["method"].encode(), path=b"/mcp",
                          headers=tuple((k.encode(), v.encode()) for k, v in rec["req"]["headers"]), content=content,
                          timestamp_start=rec["t"]["req"], timestamp_end=rec["t"]["req"])
        resp = tutils.tresp(status_code=rec["resp"]["status"], headers=tuple((k.encode(), v.encode()) for k, v in rec["resp"]["headers"]),
                            content=b"{}", timestamp_start=rec["t"]["resp"] or rec["t"]["req"], timestamp_end=rec["t"]["end"] or rec["t"]["req"])
        flows.append(tflow.tflow(req=req, resp=resp))
    return json.dumps(SaveHar().make_har(flows)).encode()


def flow_sample() -> bytes:
    from mitmproxy.io import FlowWriter
    from mitmproxy.io import har as mhar

    buf = io.BytesIO()
    w = FlowWriter(buf)
    for entry in json.loads(har_sample())["log"]["entries"]:
        w.add(mhar.request_to_flow(entry))
    return buf.getvalue()


# -- schema-aware values ------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), kids, max_size=3)),
                           max_leaves=8)


def paths(obj, prefix=()):
    """Every (path) to a value inside a record."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


def set_path(obj, path, value):
    obj = copy.deepcopy(obj)
    if not path:
        return value
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


@st.composite
def mutated_records(draw):
    """A valid exchange of a real sample with one value somewhere replaced by any JSON value."""
    lines = [orjson.loads(x) for x in SAMPLES[-2].read_bytes().splitlines()]
    recs = [r for r in lines if r.get("kind") == "exchange"]
    rec = draw(st.sampled_from(recs))
    all_paths = list(paths(rec))[1:]
    path = draw(st.sampled_from(all_paths))
    return set_path(rec, path, draw(json_values)), path


ODD_VALUES = [None, True, False, -1, 0, 99999, 2**70, -(2**70), 1e308, -0.5, "", "x" * 50, [], {}, [1, "a"],
              {"a": None}, "9999-12-31T23:59:59.000Z", "not a date", 1.5e9, "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]


def mutate_har_values(har: bytes, rnd: random.Random) -> tuple[bytes, int]:
    """One value inside one HAR entry replaced by an odd one; returns the HAR and the entry count."""
    doc = json.loads(har)
    entries = doc["log"]["entries"]
    i = rnd.randrange(len(entries))
    all_paths = list(paths(entries[i]))[1:]
    entries[i] = set_path(entries[i], rnd.choice(all_paths), rnd.choice(ODD_VALUES))
    return json.dumps(doc).encode(), len(entries)
