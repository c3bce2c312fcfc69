"""One module per rule: ``RULE`` (its data and citations), ``ORDER`` (its place in the
catalogue) and ``check(model) -> Selection`` (the exchanges that break it).

The catalogue (:mod:`mcpsniff.checks.catalogue`) discovers every module here; a new rule is one
new module and its case file in ``tests/checks/cases/``.
"""
