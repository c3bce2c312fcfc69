"""Every rule's golden cases (tests/checks/cases/<rule-id>.json), run by one harness.

A trigger capture must give exactly one finding of its rule, on the expected plane with the
expected count and the rule's severity; its near miss must give none. Each capture is written to
JSONL and read back through the real loader and ``analyze``, so the whole pipeline runs.
"""

from __future__ import annotations

import pytest

from golden import cases
from mcpsniff.checks import catalogue
from mcpsniff.documents.analysis import analyze

CASES = cases()


def findings(path) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in analyze([str(path)]).findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_every_rule_has_a_case_file_and_every_case_file_a_rule():
    assert sorted(CASES) == sorted(catalogue.RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_trigger(rule_id, tmp_path):
    case = CASES[rule_id]
    trigger, _ = case.write(tmp_path)
    found = findings(trigger)
    assert rule_id in found, f"{rule_id} not triggered; got {sorted(found)}"
    (f,) = found[rule_id]
    assert (f.plane, f.count) == (case.plane, case.count)
    assert f.severity == catalogue.get(rule_id).severity


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_near_miss(rule_id, tmp_path):
    _, near = CASES[rule_id].write(tmp_path)
    found = findings(near)
    assert rule_id not in found, f"{rule_id} triggered on its near miss: {found[rule_id]}"


# near misses that model correct behaviour: no error at all (not only not their own rule's)
CLEAN = ("session-id-dropped", "no-reinit-after-404", "accept-header-incomplete", "modern-meta-missing", "get-stream-response")


@pytest.mark.parametrize("rule_id", CLEAN)
def test_near_misses_of_correct_traffic_are_clean_of_errors(rule_id, tmp_path):
    _, near = CASES[rule_id].write(tmp_path)
    errors = {r for r, fs in findings(near).items() if fs[0].severity == "error"}
    assert not errors, errors
