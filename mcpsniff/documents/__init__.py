"""Documents: the plain data every view renders (dicts of strings, numbers, lists).

- ``analysis``  the analyze document (docs/json.md) and :func:`analyze`, the library entry point
- ``report``    the report document (docs/report.md), session ids pseudonymised
- ``diff``      capture-vs-capture and plane-vs-plane comparisons
- ``rules``     the rule catalogue

Renderers get only these documents; nothing here writes prose or markup.
"""

from .analysis import Analysis, analyze, document

__all__ = ["Analysis", "analyze", "document"]
