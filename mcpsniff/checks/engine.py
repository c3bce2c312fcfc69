"""The check engine: applies every catalogue rule's check to a Model.

A check (registered with :func:`check`) only *selects*: it returns a
:class:`Selection` -- a boolean mask over the exchange table and, optionally, a
function giving the values its rule's ``detail`` template needs for one plane's
selected rows.  The engine does the rest, the same way for every rule:

- keeps only exchanges in the rule's scope (``Rule.eras``, ``Rule.since``);
- groups what is left per plane into one :class:`Finding` (count, by method, the
  spec version to cite, the rows as evidence);
- fills the rule's ``detail`` template (:func:`fill`).

Checks stay silent where the data is unknown: truncated bodies, sessions never
seen issued, exchanges of another era.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..model import Model
from . import catalogue
from .catalogue import SEVERITIES, Rule

Values = Callable[[np.ndarray], dict[str, Any]]


@dataclass(frozen=True)
class Selection:
    """What a check returns: the exchanges that break its rule, and how to describe them.

    ``values(rows)`` gets the table positions of one plane's selected exchanges and
    returns the values the rule's ``detail`` template names (besides ``count``).
    """

    mask: Any  # boolean Series or array over model.df
    values: Values | None = None


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
    rows: np.ndarray  # positions in model.df, in time order
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


def in_scope(model: Model, rule: Rule) -> np.ndarray:
    """Exchanges the rule may judge: of one of its eras, and of a known version >= ``since``."""
    mask = model.in_eras(rule.eras)
    if rule.since is not None:
        mask = mask & model.version_at_least(rule.since)
    return mask


def _finding_version(model: Model, rows: np.ndarray) -> str | None:
    versions = model.spec_version.iloc[rows].dropna()
    return str(versions.mode().iloc[0]) if not versions.empty else None


def per_plane(model: Model, rule: Rule, mask: np.ndarray, values: Values | None) -> list[Finding]:
    if not mask.any():
        return []
    df = model.df
    sel = np.flatnonzero(mask)
    planes = df["plane"].astype("object").to_numpy()[sel]
    out = []
    for plane in sorted(set(planes)):
        rows = sel[planes == plane]
        by_method = model.label.iloc[rows].value_counts(sort=False).sort_index()
        out.append(
            Finding(
                rule=rule.id,
                severity=rule.severity,
                plane=str(plane),
                count=len(rows),
                rows=rows,
                by_method={str(k): int(v) for k, v in by_method.items()},
                version=_finding_version(model, rows),
                values=values(rows) if values else {},
            )
        )
    return out


def run_checks(model: Model) -> list[Finding]:
    """Every rule of the catalogue applied; findings ordered by severity, catalogue order, plane."""
    if model.empty:
        return []
    findings: list[Finding] = []
    for rule in catalogue.RULES.values():
        sel = CHECKS[rule.id](model)
        mask = np.asarray(sel.mask, dtype=bool) & in_scope(model, rule)
        findings += per_plane(model, rule, mask, sel.values)
    order = {rid: i for i, rid in enumerate(catalogue.RULES)}
    sev = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (sev[f.severity], order[f.rule], f.plane))
    return findings


def checked(model: Model) -> dict[str, list[str]]:
    """Per plane: the rules it was checked against, i.e. whose scope (eras, ``since``) held at
    least one of its exchanges; in catalogue order."""
    if model.empty:
        return {}
    planes = model.df["plane"]
    scopes: dict[tuple, set[str]] = {}
    out: dict[str, list[str]] = {}
    for rule in catalogue.RULES.values():
        key = (rule.eras, rule.since)
        if key not in scopes:
            mask = in_scope(model, rule)
            scopes[key] = {str(p) for p in pd.unique(planes[np.asarray(mask, dtype=bool)])}
        for plane in scopes[key]:
            out.setdefault(plane, []).append(rule.id)
    return out


def column(model: Model, name: str, rows: np.ndarray) -> pd.Series:
    """One column of the table at these positions (for ``values`` functions)."""
    return model.df[name].iloc[rows]
