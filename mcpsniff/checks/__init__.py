"""Checks: the rule catalogue applied to a Model.

- ``rules/``     one module per rule: its data, citations, detail template and check
- ``catalogue``  the registry: the rule modules, discovered, in catalogue order
- ``rule``       what a rule is (``Rule``, ``Citation``, ``Selection``) and the citation helpers
- ``shared``     SQL helpers and traffic facts that several rules' checks use
- ``engine``     scope, per-plane grouping, findings, and a finding's evidence

Adding a rule: one module in ``rules/`` and its case file in ``tests/checks/cases/``
(docs/architecture.md shows one).
"""

from . import catalogue
from .catalogue import CHECKS
from .engine import Finding, checked, evidence, marks, run_checks
from .rule import Citation, Rule, Selection

__all__ = ["CHECKS", "Citation", "Finding", "Rule", "Selection", "catalogue", "checked", "evidence", "marks", "run_checks"]
