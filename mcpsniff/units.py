"""Sizes as people type them: one parser and one unit for every size mcpsniff reads.

Every multiple counts in 1024s, whichever way it is spelt: ``1k`` = ``1KB`` = ``1KiB`` = 1024 bytes,
``1M`` = ``1MB`` = ``1MiB`` = 1024 KiB, likewise G and T (mitmproxy's sizes count the same way).
``--body-limit``, ``MCPSNIFF_MEMORY_LIMIT`` and ``MCPSNIFF_MEMORY_MAX`` all read sizes here.
"""

from __future__ import annotations

import re

UNIT = 1024
#: one line for help texts and docs
SIZE_HELP = "k, M, G count in 1024s: 1k = 1024 bytes, 1M = 1024k; KB, KiB ... mean the same"
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*", re.IGNORECASE)
_POWER = {None: 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """``"1048576"``, ``"512k"``, ``"1MiB"``, ``"1.5GB"`` -> bytes (binary multiples, see the module);
    ValueError saying what a size looks like otherwise."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not a size like 64k, 200MB or 1GB")
    return int(float(m.group(1)) * UNIT ** _POWER[(m.group(2) or "").lower() or None])


def size_text(n: int) -> str:
    """Bytes the way :func:`parse_size` reads them back: ``200MB``, ``1.5GB``."""
    return f"{n / UNIT**3:g}GB" if n >= UNIT**3 else f"{n / UNIT**2:g}MB"
