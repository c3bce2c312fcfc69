"""Property-based fuzzing of the readers (a fixed-seed share; scripts/fuzz.py runs the full count).

- byte-level mutations of real samples (JSONL, HAR, mitmproxy flow files): never a traceback,
  exit 0/1 with a document or 2 with one error line;
- schema-aware mutations (one value of a real record replaced by any JSON value) between valid
  lines: the valid lines always still count, and the model's fast row extraction and
  schema.check_record agree on what is valid.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing
from mcpsniff.model import from_records
from mcpsniff.schema import SchemaError, check_record

CI = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


def check(out: fuzzing.Outcome) -> None:
    assert out.traceback is None, out.traceback
    assert out.exit_code in (0, 1, 2)


@CI
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 12), which=st.integers(0, 100))
def test_mutated_jsonl_never_crashes(seed, edits, which):
    samples = fuzzing.jsonl_samples()
    data = fuzzing.mutate(samples[which % len(samples)], random.Random(seed), edits)
    check(fuzzing.run_analyze(data, ".jsonl"))


@pytest.fixture(scope="module")
def har_bytes() -> bytes:
    return fuzzing.har_sample()


@pytest.fixture(scope="module")
def flow_bytes() -> bytes:
    return fuzzing.flow_sample()


def test_the_har_and_flow_samples_are_real(har_bytes, flow_bytes):
    assert fuzzing.run_analyze(har_bytes, ".har").exchanges >= 5
    assert fuzzing.run_analyze(flow_bytes, ".flow").exchanges >= 5


@CI
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 12))
def test_mutated_har_never_crashes(har_bytes, seed, edits):
    check(fuzzing.run_analyze(fuzzing.mutate(har_bytes, random.Random(seed), edits), ".har"))


@CI
@given(seed=st.integers(0, 2**32))
def test_odd_values_in_a_har_entry_cost_only_that_entry(har_bytes, seed):
    data, n = fuzzing.mutate_har_values(har_bytes, random.Random(seed))
    out = fuzzing.run_analyze(data, ".har")
    check(out)
    assert out.exit_code in (0, 1) and out.exchanges >= n - 1


@CI
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 12))
def test_mutated_flow_file_never_crashes(flow_bytes, seed, edits):
    check(fuzzing.run_analyze(fuzzing.mutate(flow_bytes, random.Random(seed), edits), ".flow"))


def _accepts(fn, rec) -> bool:
    try:
        fn(rec)
    except (SchemaError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return False
    return True


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(fuzzing.mutated_records())
def test_every_record_check_record_accepts_makes_a_row(case):
    """The careful reader keeps exactly the records schema.check_record accepts: the column SQL
    never fails on one (whatever type a field has), and one it rejects is never a row."""
    rec, path = case
    valid = _accepts(check_record, rec) and rec.get("kind") == "exchange"
    try:
        m = from_records([rec])
    except SchemaError:
        assert not valid, path
        return
    assert valid and m.n == 1, path
    m.close()


@CI
@given(fuzzing.mutated_records())
def test_valid_lines_around_a_mutated_one_still_count(case):
    rec, _ = case
    good = [x for x in fuzzing.SAMPLES[-2].read_bytes().splitlines() if b'"kind":"exchange"' in x]
    data = b"\n".join(good[:3] + [json.dumps(rec).encode()] + good[3:]) + b"\n"
    out = fuzzing.run_analyze(data, ".jsonl")
    check(out)
    assert out.exit_code in (0, 1)
    valid = _accepts(check_record, rec)
    assert out.exchanges == len(good) + valid
    assert out.problems == (0 if valid else 1)
