"""Analysis: a Capture plus its findings, as one stable, documented document.

``analyze()`` is the library entry point; ``document()`` turns the result into
the JSON object that ``mcpsniff analyze --format json`` prints and that the
table and Markdown renderers display (one source of truth for all views).
The document layout is described in docs/json.md; bump DOC_VERSION when a
field changes meaning or disappears (adding fields is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from . import __version__, rules
from .checks import SEVERITY_ORDER, Finding, run_checks
from .load import Problem
from .model import Capture, build
from .schema import SCHEMA_VERSION

DOC_VERSION = 1
ECHO_CLASSES = ("echoed", "dropped", "foreign", "unknown", "none")


@dataclass
class Analysis:
    cap: Capture
    findings: list[Finding]


def analyze(
    names: Iterable[str],
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int], None] | None = None,
    plane: str | None = None,
) -> Analysis:
    cap = build(names, strict=strict, on_problem=on_problem, progress=progress)
    findings = run_checks(cap)
    if plane is not None:
        findings = [f for f in findings if f.plane == plane]
    return Analysis(cap, findings)


def iso(t: float | None) -> str | None:
    if t is None or (isinstance(t, float) and np.isnan(t)):
        return None
    return datetime.fromtimestamp(float(t), tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evidence_rows(cap: Capture, rows: np.ndarray) -> list[dict[str, Any]]:
    """The exchanges behind a finding, as plain dicts (time order)."""
    df = cap.df
    sub = df.loc[rows]
    out = []
    for r in sub.itertuples(index=False):
        src = cap.sources[r.src].name
        status = int(r.status)
        out.append(
            {
                "id": r.exid,
                "source": f"{src}:{r.line}",
                "time": iso(r.t_req),
                "plane": str(r.plane),
                "http_method": str(r.http_method),
                "method": r.rpc_method if isinstance(r.rpc_method, str) else None,
                "status": status if status >= 0 else None,
                "session_id": r.req_sid,
                "protocol_version": r.pv_hdr if isinstance(r.pv_hdr, str) else None,
                "headers": [h for h in str(r.hnames).split(",") if h] if isinstance(r.hnames, str) else [],
                "error": r.error if isinstance(r.error, str) else None,
            }
        )
    return out


def finding_dict(a: Analysis, f: Finding, evidence_limit: int | None) -> dict[str, Any]:
    rule = rules.get(f.rule)
    cit = rules.citation_for(f.rule, f.version)
    rows = f.rows if not evidence_limit else f.rows[:evidence_limit]
    return {
        "rule": f.rule,
        "severity": f.severity,
        "party": rule.party,
        "title": rule.title,
        "plane": f.plane,
        "count": f.count,
        "by_method": f.by_method,
        "detail": f.detail,
        "explanation": rule.explanation,
        "spec": {"version": cit.version, "section": cit.section, "url": cit.url, "quote": cit.quote},
        "evidence": evidence_rows(a.cap, rows),
        "evidence_total": int(len(f.rows)),
    }


def _counts(s: pd.Series) -> dict[str, int]:
    vc = s.value_counts(sort=False)
    return {str(k): int(v) for k, v in vc.items() if v}


def plane_dicts(a: Analysis) -> list[dict[str, Any]]:
    df = a.cap.df
    if df.empty:
        return []
    cols = ["plane", "era", "neg_version", "meta_pv", "echo", "rpc_method", "http_method", "status", "client_info", "t_req"]
    mcp = df.loc[df["era"] != "other", cols]
    sessions = a.cap.sessions if a.cap.sessions is not None else pd.DataFrame(columns=["plane"])
    issued = sessions["plane"].value_counts()
    by_plane_findings: dict[str, list[Finding]] = {}
    for f in a.findings:
        by_plane_findings.setdefault(f.plane, []).append(f)

    out = []
    for plane, g in mcp.groupby(mcp["plane"].astype("object"), sort=True):
        eras = _counts(g["era"].astype("object"))
        main_era = max((e for e in eras if e not in ("probe",)), key=lambda e: eras[e], default="other")
        versions = sorted(set(g["neg_version"].astype("object").dropna()) | set(g["meta_pv"].astype("object").dropna()))
        echo = {k: int(v) for k, v in g["echo"].value_counts().reindex(ECHO_CLASSES, fill_value=0).items()}
        label = g["rpc_method"].astype("object").where(g["rpc_method"].notna(), g["http_method"].astype("object"))
        methods = []
        for m, mg in g.groupby(label, sort=True):
            me = mg["echo"].value_counts().reindex(ECHO_CLASSES, fill_value=0)
            st = mg["status"]
            methods.append(
                {
                    "method": str(m),
                    "requests": int(len(mg)),
                    **{k: int(me[k]) for k in ECHO_CLASSES},
                    "statuses": {("none" if k < 0 else str(k)): int(v) for k, v in st.value_counts().sort_index().items()},
                }
            )
        fs = by_plane_findings.get(str(plane), [])
        client_sev = [f.severity for f in fs if rules.get(f.rule).party == "client" and f.severity != "info"]
        verdict = "fail" if "error" in client_sev else "warn" if "warning" in client_sev else "ok"
        cinfo = g["client_info"].astype("object").dropna()
        out.append(
            {
                "user_agent": str(plane),
                "client_info": sorted(set(cinfo)),
                "era": main_era,
                "eras": eras,
                "versions": versions,
                "requests": int(len(g)),
                "sessions_issued": int(issued.get(plane, 0)),
                "session_header": echo,
                "methods": methods,
                "verdict": verdict,
                "findings": {sev: sum(1 for f in fs if f.severity == sev) for sev in SEVERITY_ORDER},
                "first_seen": iso(g["t_req"].min()),
                "last_seen": iso(g["t_req"].max()),
            }
        )
    return out


def document(a: Analysis, *, evidence_limit: int | None = 10, plane: str | None = None) -> dict[str, Any]:
    """The stable JSON document (see docs/json.md)."""
    df = a.cap.df
    planes = plane_dicts(a)
    if plane is not None:
        planes = [p for p in planes if p["user_agent"] == plane]
    sev_counts = {sev: sum(1 for f in a.findings if f.severity == sev) for sev in SEVERITY_ORDER}
    versions_seen = sorted({v for p in planes for v in p["versions"]})
    return {
        "mcpsniff": {"version": __version__, "document": DOC_VERSION, "schema": SCHEMA_VERSION},
        "inputs": [
            {"path": s.name, "format": s.fmt, "exchanges": s.exchanges, "problems": sum(1 for p in a.cap.problems if p.source == s.name)}
            for s in a.cap.sources
        ],
        "capture": {
            "exchanges": int(len(df)),
            "mcp_exchanges": int((df["era"] != "other").sum()) if not df.empty else 0,
            "start": iso(df["t_req"].min()) if not df.empty else None,
            "end": iso(np.nanmax(df[["t_req", "t_end"]].to_numpy())) if not df.empty else None,
            "eras": _counts(df["era"].astype("object")) if not df.empty else {},
            "spec_versions": versions_seen,
        },
        "planes": planes,
        "summary": {"findings": sev_counts, "failing_planes": [p["user_agent"] for p in planes if p["verdict"] == "fail"]},
        "findings": [finding_dict(a, f, evidence_limit) for f in a.findings],
        "problems": [str(p) for p in a.cap.problems],
    }
