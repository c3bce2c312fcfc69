"""The rules' golden cases, as data: ``tests/checks/cases/<rule-id>.json``.

Each file holds, for one rule, a capture that triggers it (``trigger_capture``, with the plane
and count the finding must have) and a near miss that must not (``near_miss_capture``): capture
records as the JSONL file would hold them, one per line. ``tests/checks/test_cases.py`` runs
them all through ``analyze``; a rule without a case file fails there.

A new case file is written once from two captures built with ``tests/synth.py`` (see
:func:`save` and docs/architecture.md), then committed and edited as data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parent / "checks" / "cases"


@dataclass(frozen=True)
class Case:
    rule: str
    plane: str  # the trigger's finding: its plane and count
    count: int
    trigger: list[dict[str, Any]]
    near_miss: list[dict[str, Any]]

    @staticmethod
    def jsonl(records: list[dict[str, Any]]) -> bytes:
        return b"".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """The trigger and the near miss as JSONL files in ``directory``."""
        t, n = directory / f"{self.rule}.trigger.jsonl", directory / f"{self.rule}.near-miss.jsonl"
        t.write_bytes(self.jsonl(self.trigger))
        n.write_bytes(self.jsonl(self.near_miss))
        return t, n


def load(path: Path) -> Case:
    d = json.loads(path.read_text())
    if d["rule"] != path.stem:
        raise ValueError(f"{path.name} holds the cases of {d['rule']!r}")
    return Case(d["rule"], d["trigger"]["plane"], d["trigger"]["count"], d["trigger_capture"], d["near_miss_capture"])


def cases() -> dict[str, Case]:
    """Every case file, by rule id."""
    return {c.rule: c for c in map(load, sorted(CASES_DIR.glob("*.json")))}


def save(rule: str, trigger: list[dict[str, Any]], plane: str, count: int, near_miss: list[dict[str, Any]],
         trigger_note: str | None = None, near_miss_note: str | None = None) -> Path:
    """Write ``tests/checks/cases/<rule>.json`` (one capture record per line, for readable diffs)."""
    def block(records: list[dict[str, Any]]) -> str:
        return "[\n" + ",\n".join("    " + json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records) + "\n  ]"

    def head(fields: dict[str, Any]) -> str:
        return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items() if v is not None) + "}"

    text = ("{\n"
            f'  "rule": {json.dumps(rule)},\n'
            f'  "trigger": {head({"plane": plane, "count": count, "note": trigger_note})},\n'
            f'  "trigger_capture": {block(trigger)},\n'
            f'  "near_miss": {head({"note": near_miss_note})},\n'
            f'  "near_miss_capture": {block(near_miss)}\n'
            "}\n")
    path = CASES_DIR / f"{rule}.json"
    path.write_text(text)
    return path
