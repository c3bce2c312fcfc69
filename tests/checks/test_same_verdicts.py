"""Same verdicts: ``mcpsniff analyze -f json`` of every shipped sample, and the findings of every
golden case capture, pinned to committed expectations (tests/checks/verdicts/).

A refactoring must leave these unchanged. When verdicts change on purpose, regenerate the
expectations and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/checks/test_same_verdicts.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golden import cases
from mcpsniff.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).resolve().parent / "verdicts"
SAMPLES = sorted(p.name for p in (ROOT / "samples").glob("*.jsonl"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

runner = CliRunner()


def analyze_json(path: str) -> dict:
    r = runner.invoke(app, ["analyze", "-f", "json", path])
    assert r.exit_code in (0, 1), r.output
    doc = json.loads(r.stdout)
    doc["mcpsniff"].pop("version")  # the package's version is not a verdict
    return {"exit_code": r.exit_code, "document": doc}


def compare(name: str, got: dict) -> None:
    path = EXPECTED / name
    text = json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE:
        EXPECTED.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no expectation {path.name}: run with UPDATE_GOLDEN=1"
    assert json.loads(text) == json.loads(path.read_text()), f"verdicts of {name} changed (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_verdicts_are_unchanged(sample, monkeypatch):
    monkeypatch.chdir(ROOT)
    compare(sample.replace(".jsonl", ".json"), analyze_json(f"samples/{sample}"))


def test_golden_case_verdicts_are_unchanged(tmp_path, monkeypatch):
    """Every finding (rule, plane, count, detail, methods, values, evidence ids) and every plane's
    verdict of each case capture."""
    monkeypatch.chdir(tmp_path)
    got = {}
    for case in cases().values():
        for path in case.write(tmp_path):
            d = analyze_json(path.name)
            doc = d["document"]
            got[path.name] = {
                "exit_code": d["exit_code"],
                "verdicts": {p["user_agent"]: p["verdict"] for p in doc["planes"]},
                "rules_checked": {p["user_agent"]: p["rules_checked"] for p in doc["planes"]},
                "findings": [{k: f[k] for k in ("rule", "severity", "plane", "count", "detail", "by_method", "values",
                                                "likely_cause")} | {"evidence": [e["id"] for e in f["evidence"]]}
                             for f in doc["findings"]],
                "summary": doc["summary"],
            }
    compare("cases.json", got)
