"""The check engine: applies every catalogue rule's check to a Model.

A check (registered with :func:`check`) only *selects*: it returns a :class:`Selection` -- a SQL
predicate over the exchange table and, optionally, the SQL aggregates its rule's ``detail``
template needs for one plane's selected exchanges. The engine does the rest, the same way for
every rule:

- keeps only exchanges in the rule's scope (``Rule.eras``, ``Rule.since``);
- groups what is left per plane into one :class:`Finding` (count, by method, the spec version
  to cite, the predicate that finds its exchanges again as evidence) -- one scan per rule;
- fills the rule's ``detail`` template (:func:`fill`).

Checks stay silent where the data is unknown: truncated bodies, sessions never seen issued,
exchanges of another era.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from ..model import Model
from ..model.model import quote
from . import catalogue
from .catalogue import SEVERITIES, Rule


@dataclass(frozen=True)
class Selection:
    """What a check returns: the exchanges that break its rule, and how to describe them.

    ``where`` is a SQL predicate over the table ``m``. ``values`` maps the names the rule's
    ``detail`` template uses (besides ``count``) to SQL aggregates over one plane's selected rows
    (the group's plane is ``s.plane``); ``post`` may turn the fetched values into their final form.
    """

    where: str
    values: dict[str, str] = field(default_factory=dict)
    post: Callable[[dict[str, Any]], dict[str, Any]] | None = None


NOTHING = Selection("FALSE")

Check = Callable[[Model], Selection]
#: rule id -> its check (filled by the @check decorators of the topic modules)
CHECKS: dict[str, Check] = {}


def check(rule_id: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check of ``rule_id`` (which must be in the catalogue)."""
    catalogue.get(rule_id)  # KeyError naming the known ids for a typo

    def register(fn: Check) -> Check:
        if rule_id in CHECKS:
            raise ValueError(f"two checks for rule {rule_id!r}")
        CHECKS[rule_id] = fn
        return fn

    return register


@dataclass
class Finding:
    rule: str
    severity: str
    plane: str
    count: int
    where: str  # SQL predicate over m: this finding's exchanges (evidence, diagram marks)
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


def per_plane(model: Model, rule: Rule, sel: Selection) -> list[Finding]:
    """One finding per plane with selected exchanges (one scan of the table)."""
    scope = in_scope(model, rule)
    where = f"({scope}) AND ({sel.where})"
    names = list(sel.values)
    vals = "".join(f", CASE WHEN GROUPING(label) = 1 AND GROUPING(v) = 1 THEN {sel.values[n]} END" for n in names)
    rows = model.rows(f"""
        SELECT s.plane, label, v, GROUPING(label) AS gl, GROUPING(v) AS gv, count(*) AS n{vals}
        FROM (SELECT *, {Model.LABEL} AS label, {Model.SPEC_VERSION} AS v FROM m WHERE {where}) AS s
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
                           where=f"{where} AND plane = {quote(plane)}",
                           by_method=dict(sorted(e["methods"].items())), version=version, values=values))
    return out


def firing(model: Model, selections: dict[str, Selection]) -> set[str]:
    """The rules with at least one selected exchange: one scan of the table for all the plain
    conditions; a condition with a subquery gets a scan of its own (inside one big aggregate
    DuckDB cannot decorrelate it, and the whole scan slows down tenfold), as a WHERE clause: there
    DuckDB filters on the plain parts first (1M exchanges: 0.01 s against 0.23 s for
    unknown-session-wrong-status)."""
    live = {rid: f"({in_scope(model, catalogue.get(rid))}) AND ({sel.where})"
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
    selections = {rule.id: CHECKS[rule.id](model) for rule in catalogue.RULES.values()}
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


def in_list(values: list[Any]) -> str:
    """A SQL ``IN (...)`` list (``IN (NULL)`` matches nothing when empty)."""
    return "(" + (", ".join(quote(v) if not isinstance(v, (int, float)) else str(v) for v in values) or "NULL") + ")"


def distinct(model: Model, column: str, where: str = "TRUE", table: str = "m") -> list[Any]:
    """The distinct non-NULL values of a column of the exchanges (or of ``table``), in order: to test
    in Python once per value, not per row, or to list in a condition instead of a subquery (a
    condition with a subquery costs a scan of its own)."""
    return [v for (v,) in model.rows(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND ({where}) ORDER BY 1")]


def matching(model: Model, column: str, test: Callable[[Any], bool], where: str = "TRUE") -> str:
    """SQL predicate: the column's value is one of those passing ``test`` (tested once per distinct value)."""
    return f"({column} IN {in_list([v for v in distinct(model, column, where) if test(v)])})"
