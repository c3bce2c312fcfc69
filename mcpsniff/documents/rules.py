"""The rule catalogue as a document (``mcpsniff rules``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..checks import catalogue


def document() -> list[dict[str, Any]]:
    """Every rule with its citations, in catalogue order."""
    return [asdict(r) for r in catalogue.RULES.values()]
