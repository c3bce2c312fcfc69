"""The rules' golden cases, as data: ``tests/checks/cases/<rule-id>.json``.

Each file holds, for one rule, a capture that triggers it (``trigger_capture``, with the plane
and count the finding must have) and a near miss that must not (``near_miss_capture``): capture
records as the JSONL file would hold them, one per line. ``tests/checks/test_cases.py`` runs
them all through ``analyze``; a rule without a case file fails there.
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
