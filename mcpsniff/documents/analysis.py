"""The analysis document: a Model and its findings as one stable, documented object.

:func:`analyze` is the library entry point; :func:`document` gives the JSON object
``mcpsniff analyze --format json`` prints and every analysis view renders (one
source of truth).  The layout is described in docs/json.md; bump DOC_VERSION when
a field changes meaning or disappears (adding fields is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from .. import __version__, model
from ..checks import Finding, catalogue, checked, engine, run_checks
from ..checks.catalogue import SEVERITIES
from ..checks.rules import requests_refused
from ..checks.shared import failed_answers, mostly_failed
from ..load import Problem
from ..model import Model, facts
from ..schema import SCHEMA_VERSION

DOC_VERSION = 1


@dataclass
class Analysis:
    model: Model
    findings: list[Finding]


def analyze(
    names: Iterable[str],
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int], None] | None = None,
    plane: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Analysis:
    """Read and analyse captures; ``progress`` gets exchanges read so far, ``on_bytes`` bytes."""
    m = model.build(names, strict=strict, on_problem=on_problem, progress=progress, on_bytes=on_bytes)
    with model.engine_limits():
        findings = run_checks(m)
    if plane is not None:
        findings = [f for f in findings if f.plane == plane]
    return Analysis(m, findings)


def iso(t: float | None) -> str | None:
    """Epoch seconds -> ``2025-10-09T08:53:20.050Z`` (None stays None)."""
    if t is None or t != t:  # None or NaN
        return None
    return datetime.fromtimestamp(float(t), tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_client_error(f: Finding | dict[str, Any]) -> bool:
    """An error-severity finding against the client: what fails a plane and marks the diagram."""
    sev, party = (f["severity"], f["party"]) if isinstance(f, dict) else (f.severity, f.party)
    return sev == "error" and party == "client"


VERDICTS = ("fail", "warn", "refused", "ok")


def verdict(findings: list[Finding]) -> str:
    """A plane's verdict from its client-party findings: fail (an error), warn (a warning);
    refused when most of its traffic failed (the refusal observation), so it is never a bare ok; else ok."""
    sev = {f.severity for f in findings if f.party == "client"}
    if "error" in sev:
        return "fail"
    if "warning" in sev:
        return "warn"
    return "refused" if any(f.rule == requests_refused.RULE.id for f in findings) else "ok"


def likely_causes(f: Finding, findings: list[Finding]) -> list[str]:
    """Server findings in the same capture that explain a finding (same plane first, else any plane)."""
    causes = catalogue.get(f.rule).likely_causes
    if not causes:
        return []
    same = [c for c in causes if any(g.rule == c and g.plane == f.plane for g in findings)]
    return same or [c for c in causes if any(g.rule == c for g in findings)]


def evidence(m: Model, f: Finding, limit: int | None) -> list[dict[str, Any]]:
    """The exchanges behind a finding, as the engine finds them again."""
    out = []
    for e in engine.evidence(m, f, limit):
        t = e.pop("t")
        out.append({"id": e.pop("id"), "source": e.pop("source"), "time": iso(t), **e})
    return out


def finding_dict(a: Analysis, f: Finding, evidence_limit: int | None) -> dict[str, Any]:
    rule = catalogue.get(f.rule)
    cit = catalogue.citation_for(f.rule, f.version)
    return {
        "rule": f.rule,
        "severity": f.severity,
        "party": rule.party,
        "title": rule.title,
        "plane": f.plane,
        "count": f.count,
        "by_method": f.by_method,
        "detail": f.detail,
        "values": f.values,
        "likely_cause": likely_causes(f, a.findings),
        "explanation": rule.explanation,
        "spec": {"source": cit.source, "version": cit.version, "section": cit.section, "url": cit.url, "quote": cit.quote},
        "evidence": evidence(a.model, f, evidence_limit),
        "evidence_total": f.count,
    }


def _main_era(eras: dict[str, int]) -> str:
    return max((e for e in eras if e != "probe"), key=lambda e: eras[e], default="other")


def plane_dicts(a: Analysis) -> list[dict[str, Any]]:
    by_plane: dict[str, list[Finding]] = {}
    for f in a.findings:
        by_plane.setdefault(f.plane, []).append(f)
    latency = a.model.latency()
    rules_checked = checked(a.model)
    out = []
    for p in a.model.plane_facts():
        fs = by_plane.get(p["user_agent"], [])
        out.append(
            {
                "user_agent": p["user_agent"],
                "client_info": p["client_info"],
                "era": _main_era(p["eras"]),
                "eras": p["eras"],
                "versions": p["versions"],
                "requests": p["requests"],
                "sessions_issued": p["sessions_issued"],
                "session_header": p["session_header"],
                "methods": p["methods"],
                "verdict": verdict(fs),
                "findings": {sev: sum(1 for f in fs if f.severity == sev) for sev in SEVERITIES},
                "first_seen": iso(p["first_seen"]),
                "last_seen": iso(p["last_seen"]),
                "correlation": a.model.correlation(p["user_agent"]) if p["session_header"]["dropped"] else [],
                "latency": latency.get(p["user_agent"], []),
                "rules_checked": rules_checked.get(p["user_agent"], []),
            }
        )
    return out


def rule_dicts() -> list[dict[str, Any]]:
    """Every rule of the catalogue (what a CI format lists as checked), with its newest citation."""
    out = []
    for r in catalogue.RULES.values():
        c = r.citations[0]
        out.append({"id": r.id, "severity": r.severity, "party": r.party, "title": r.title, "explanation": r.explanation,
                    "eras": list(r.eras), "spec": {"source": c.source, "version": c.version, "section": c.section, "url": c.url}})
    return out


def capture_failed(a: Analysis) -> dict[str, Any] | None:
    """When most MCP exchanges of the whole capture failed: how many, and the most frequent answers."""
    m = a.model
    f = m.failures()
    if not mostly_failed(f["failed"], f["exchanges"]):
        return None
    return {**f, "answers": failed_answers(m)}


def document(a: Analysis, *, evidence_limit: int | None = 10, plane: str | None = None) -> dict[str, Any]:
    """The stable JSON document (see docs/json.md)."""
    m = a.model
    planes = plane_dicts(a)
    if plane is not None:
        planes = [p for p in planes if p["user_agent"] == plane]
    sev_counts = {sev: sum(1 for f in a.findings if f.severity == sev) for sev in SEVERITIES}
    cap = m.capture_facts()
    return {
        "mcpsniff": {"version": __version__, "document": DOC_VERSION, "schema": SCHEMA_VERSION},
        "inputs": [
            {"path": i.name, "format": i.fmt, "exchanges": i.exchanges, "problems": sum(1 for p in m.problems if p.source == i.name)}
            for i in m.inputs
        ],
        "capture": {
            "exchanges": cap["exchanges"],
            "mcp_exchanges": cap["mcp_exchanges"],
            "start": iso(cap["start"]),
            "end": iso(cap["end"]),
            "eras": cap["eras"],
            "spec_versions": sorted({v for p in planes for v in p["versions"]}),
        },
        "planes": planes,
        "summary": {
            "findings": sev_counts,
            "failing_planes": [p["user_agent"] for p in planes if p["verdict"] == "fail"],
            "capture_failed": capture_failed(a),
        },
        "findings": [finding_dict(a, f, evidence_limit) for f in a.findings],
        "authorization": [x for x in m.authorization() if plane is None or x["user_agent"] == plane],
        "rules": rule_dicts(),
        "problems": [str(p) for p in m.problems],
        "not_judged": facts.not_judged(m),
    }
