"""The check engine: applies every catalogue rule's check to a Model.

A check (``check`` of a rule's module, :mod:`mcpsniff.checks.rules`) only *selects*: it returns a :class:`Selection` -- a SQL
predicate over the exchange table and, optionally, the SQL aggregates its rule's ``detail``
template needs for one plane's selected exchanges. The engine does the rest, the same way for
every rule:

- keeps only exchanges in the rule's scope (``Rule.eras``, ``Rule.since``);
- groups what is left per plane into one :class:`Finding` (count, by method, the spec version
  to cite) -- one scan per rule;
- fills the rule's ``detail`` template (:func:`fill`);
- finds a finding's exchanges again when a document asks for them (:func:`evidence`,
  :func:`marks`): a finding is plain data and carries no SQL.

Checks stay silent where the data is unknown: truncated bodies, sessions never seen issued,
exchanges of another era.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..model import Model
from ..model.sql import LABEL, SPEC_VERSION, quote
from . import catalogue
from .catalogue import CHECKS, SEVERITIES, Rule
from .rule import Selection


@dataclass
class Finding:
    """One rule broken on one plane: plain data (the exchanges behind it: :func:`evidence`)."""

    rule: str
    severity: str
    plane: str
    count: int
    by_method: dict[str, int] = field(default_factory=dict)
    version: str | None = None  # spec version the rule is cited for
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return catalogue.get(self.rule).title

    @property
    def party(self) -> str:
        return catalogue.get(self.rule).party

    @cached_property
    def detail(self) -> str:
        return fill(catalogue.get(self.rule).detail, {"count": self.count, **self.values})


class _DetailFormatter(string.Formatter):
    """``{x}``: lists joined with ", ", dicts as "key xN" joined with ", "; ``{x:semicolons}`` joins with "; "."""

    def format_field(self, value: Any, format_spec: str) -> str:
        sep = "; " if format_spec == "semicolons" else ", "
        if isinstance(value, dict):
            return sep.join(f"{k} x{v}" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return sep.join(str(v) for v in value)
        if format_spec in ("", "semicolons"):
            return str(value)
        return super().format_field(value, format_spec)


_FORMATTER = _DetailFormatter()


def fill(template: str, values: dict[str, Any]) -> str:
    """A rule's detail template filled with a finding's values."""
    return _FORMATTER.format(template, **values)


def in_scope(model: Model, rule: Rule) -> str:
    """The SQL predicate for the exchanges a rule may judge: of one of its eras, and of a known
    version >= ``since``."""
    pred = model.in_eras(rule.eras)
    if rule.since is not None:
        pred = f"{pred} AND {model.version_at_least(rule.since)}"
    return pred


def selection(model: Model, rule_id: str) -> Selection:
    """What the rule's check selects in this model (worked out once per model and rule)."""
    return model.memo(f"selection:{rule_id}", lambda: CHECKS[rule_id](model))


def selected(model: Model, rule: Rule, sel: Selection) -> str:
    """SQL predicate: the exchanges in the rule's scope that its check selected."""
    return f"({in_scope(model, rule)}) AND ({sel.where})"


def per_plane(model: Model, rule: Rule, sel: Selection) -> list[Finding]:
    """One finding per plane with selected exchanges (one scan of the table)."""
    where = selected(model, rule, sel)
    names = list(sel.values)
    vals = "".join(f", CASE WHEN GROUPING(label) = 1 AND GROUPING(v) = 1 THEN {sel.values[n]} END" for n in names)
    rows = model.rows(f"""
        SELECT s.plane, label, v, GROUPING(label) AS gl, GROUPING(v) AS gv, count(*) AS n{vals}
        FROM (SELECT *, {LABEL} AS label, {SPEC_VERSION} AS v FROM m WHERE {where}) AS s
        GROUP BY GROUPING SETS ((s.plane), (s.plane, label), (s.plane, v))""")
    by: dict[str, dict[str, Any]] = {}
    for plane, label, v, gl, gv, n, *vs in rows:
        e = by.setdefault(plane, {"count": 0, "methods": {}, "versions": {}, "values": {}})
        if gl and gv:
            e["count"] = n
            e["values"] = dict(zip(names, vs))
        elif not gl:
            e["methods"][str(label)] = n
        elif v is not None:
            e["versions"][v] = n
    out = []
    for plane in sorted(by):
        e = by[plane]
        versions = e["versions"]
        version = min(versions, key=lambda k: (-versions[k], k)) if versions else None
        values = sel.post(e["values"]) if sel.post else e["values"]
        out.append(Finding(rule=rule.id, severity=rule.severity, plane=plane, count=e["count"],
                           by_method=dict(sorted(e["methods"].items())), version=version, values=values))
    return out


def firing(model: Model, selections: dict[str, Selection]) -> set[str]:
    """The rules with at least one selected exchange: one scan of the table for all the plain
    conditions; a condition with a subquery gets a scan of its own (inside one big aggregate
    DuckDB cannot decorrelate it, and the whole scan slows down tenfold), as a WHERE clause: there
    DuckDB filters on the plain parts first, so a rare condition costs little."""
    live = {rid: selected(model, catalogue.get(rid), sel)
            for rid, sel in selections.items() if sel.where.strip() != "FALSE"}
    plain = [r for r in live if "SELECT" not in live[r].upper()]
    hits: set[str] = set()
    if plain:
        counts = model.rows("SELECT " + ", ".join(f"count(*) FILTER ({live[r]})" for r in plain) + " FROM m")[0]
        hits.update(r for r, n in zip(plain, counts) if n)
    hits.update(r for r in live if r not in plain and model.value(f"SELECT count(*) FROM m WHERE {live[r]}"))
    return hits


def run_checks(model: Model) -> list[Finding]:
    """Every rule of the catalogue applied; findings ordered by severity, catalogue order, plane.

    One scan finds the rules that fire at all; only those are grouped per plane (one scan each)."""
    if model.empty:
        return []
    selections = {rule.id: selection(model, rule.id) for rule in catalogue.RULES.values()}
    hits = firing(model, selections)
    findings: list[Finding] = []
    for rule in catalogue.RULES.values():
        if rule.id in hits:
            findings += per_plane(model, rule, selections[rule.id])
    order = {rid: i for i, rid in enumerate(catalogue.RULES)}
    sev = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (sev[f.severity], order[f.rule], f.plane))
    return findings


def checked(model: Model) -> dict[str, list[str]]:
    """Per plane: the rules it was checked against, i.e. whose scope (eras, ``since``) held at
    least one of its exchanges; in catalogue order."""
    scopes = {(r.eras, r.since): in_scope(model, r) for r in catalogue.RULES.values()}  # one per distinct scope
    planes = dict(zip(scopes, model.planes_where(list(scopes.values()))))
    out: dict[str, list[str]] = {}
    for rule in catalogue.RULES.values():
        for plane in sorted(planes[(rule.eras, rule.since)]):
            out.setdefault(plane, []).append(rule.id)
    return out



def finding_where(model: Model, finding: Finding) -> str:
    """SQL predicate: the exchanges behind a finding (its rule's selection, in scope, on its plane)."""
    rule = catalogue.get(finding.rule)
    return f"{selected(model, rule, selection(model, rule.id))} AND plane = {quote(finding.plane)}"


def evidence(model: Model, finding: Finding, limit: int | None = None) -> list[dict[str, Any]]:
    """The exchanges behind a finding, in time order (at most ``limit``), as plain dicts."""
    return model.evidence(finding_where(model, finding), limit)


def marks(model: Model, findings: list[Finding]) -> str | None:
    """SQL predicate: the exchanges behind any of ``findings`` (None when there are none), for
    :meth:`Model.runs` to mark."""
    return " OR ".join(f"({finding_where(model, f)})" for f in findings) or None
