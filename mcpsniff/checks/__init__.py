"""Checks: the rule catalogue applied to a Model.

- ``catalogue``  the rules as data: text, citations, scope (eras, since), detail templates
- ``engine``     scope, per-plane grouping, findings; the ``@check`` registry
- ``session``, ``version``, ``messages``, ``cors``, ``modern``, ``observations``: one check per rule

Adding a rule: its entry in ``catalogue``, its ``@check`` function in a topic
module, a golden case and a near miss in ``tests/checks/test_golden.py``.
"""

from . import catalogue
from .catalogue import Citation, Rule
from .engine import CHECKS, Finding, Selection, checked, run_checks

# the topic modules register their checks with the engine when imported
from . import cors, messages, modern, observations, session, version  # noqa: E402, F401  isort: skip

__all__ = ["CHECKS", "Citation", "Finding", "Rule", "Selection", "catalogue", "checked", "run_checks"]
