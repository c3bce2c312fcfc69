"""The rule catalogue: every module of :mod:`mcpsniff.checks.rules`, discovered, in order.

A rule is one module there (``RULE``: its data, ``ORDER``: its place, ``check``: what it
selects; see :mod:`mcpsniff.checks.rule`). The catalogue is ordered by ``ORDER`` so reports, JSON
and SARIF list the rules in one stable order, whatever the file names.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Callable

from ..mcp import ERAS, SEVERITIES, VERSION_ERAS
from ..model import Model
from . import rules as _package
from .rule import MCP, PARTIES, Citation, Rule, Selection

Check = Callable[[Model], Selection]


def _discover() -> list[ModuleType]:
    mods = [importlib.import_module(f"{_package.__name__}.{info.name}")
            for info in pkgutil.iter_modules(_package.__path__) if not info.name.startswith("_")]
    for mod in mods:
        for attr in ("RULE", "ORDER", "check"):
            if not hasattr(mod, attr):
                raise TypeError(f"{mod.__name__} defines no {attr}")
        if mod.__name__.rsplit(".", 1)[1] != mod.RULE.id.replace("-", "_"):
            raise TypeError(f"{mod.__name__} holds rule {mod.RULE.id!r}: a rule's module is named after it")
    orders = [m.ORDER for m in mods]
    if len(set(orders)) != len(orders):
        raise TypeError("two rules with the same ORDER")
    return sorted(mods, key=lambda m: m.ORDER)


_MODULES = _discover()
#: rule id -> rule, in catalogue order
RULES: dict[str, Rule] = {m.RULE.id: m.RULE for m in _MODULES}
#: rule id -> its check
CHECKS: dict[str, Check] = {m.RULE.id: m.check for m in _MODULES}


def get(rule_id: str) -> Rule:
    """The rule called ``rule_id``; KeyError naming the known ids otherwise."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(
            f"unknown rule id {rule_id!r}; known ids: {', '.join(RULES)}"
        ) from None


def citation_for(rule_id: str, version: str | None) -> Citation:
    """The citation a finding quotes: for a rule resting on the MCP spec, the one for ``version``
    (else the newest); for a rule resting on another standard first (RFC 9110, Fetch), that one."""
    rule = get(rule_id)
    if rule.citations[0].source != MCP:
        return rule.citations[0]
    for citation in rule.citations:
        if citation.version == version:
            return citation
    return rule.citations[0]


__all__ = ["CHECKS", "Citation", "ERAS", "PARTIES", "RULES", "Rule", "SEVERITIES", "VERSION_ERAS", "citation_for", "get"]
