"""Declared facts of a capture: helper tables the rules read, each built once per Model.

A fact is a name and the SQL that selects its rows from the exchange table ``m`` (optionally
with a Python test per row, for what SQL cannot judge, such as decoding a header). It is built
lazily, as a temporary table, on the first :func:`table` call for a Model, and later calls get
the same table: checks stay pure (they only read), and two rules that need the same fact share
it without knowing of each other.

:func:`table` answers None when the fact holds no row, so that a rule's condition over it can be
a plain ``FALSE``: such a condition costs no scan of the exchanges (much traffic has no 404s, no
refusals and no DELETE at all).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable

from ..mcp import NAMED_METHODS
from .model import Model
from .sql import in_list

#: whole (untruncated, unbatched) JSON-RPC requests
WHOLE_REQUESTS = "(has_id AND rpc_method IS NOT NULL AND NOT batch AND NOT req_trunc)"
#: whole 2026-07-28 POST requests (the ones whose metadata headers must mirror the body)
MODERN_REQUESTS = f"(http_method = 'POST' AND {WHOLE_REQUESTS} AND era = 'modern')"


@dataclass(frozen=True)
class Fact:
    name: str  # the table's name
    sql: str  # SELECT of its rows over m
    keep: Callable[[tuple], bool] | None = None  # a row test in Python, applied to the SELECT's rows
    columns: tuple[str, ...] = ()  # the SELECT's column names (needed with ``keep``)


FACTS: dict[str, Fact] = {}


def declare(name: str, sql: str, keep: Callable[[tuple], bool] | None = None, columns: tuple[str, ...] = ()) -> Fact:
    if name in FACTS:
        raise ValueError(f"two facts called {name!r}")
    FACTS[name] = Fact(name, sql, keep, columns)
    return FACTS[name]


def table(model: Model, fact: Fact) -> str | None:
    """The fact's table (built on the first request for this model), or None when it is empty."""
    def build() -> str | None:
        name = f"fact_{fact.name}"
        if fact.keep is None:
            model.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {fact.sql}")
        else:
            rows = [r for r in model.rows(fact.sql) if fact.keep(r)]
            model.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM ({fact.sql}) LIMIT 0")
            if rows:
                model.con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in fact.columns)})", rows)
        return name if model.value(f"SELECT count(*) FROM {name}") else None
    return model.memo(f"fact:{fact.name}", build)


def decode_mcp_name(value: Any) -> Any:
    """``=?base64?...?=`` encoded Mcp-Name values are compared decoded (2026-07-28)."""
    if isinstance(value, str) and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


#: (Mcp-Name header, body name or uri) pairs of whole 2026-07-28 named requests that differ,
#: the header compared decoded
MCP_NAME_MISMATCH = declare(
    "mcp_name_mismatch",
    f"""SELECT DISTINCT mcp_name_hdr AS hdr, name_param AS name FROM m WHERE {MODERN_REQUESTS}
        AND rpc_method IN {in_list(list(NAMED_METHODS))} AND name_param IS NOT NULL""",
    keep=lambda r: decode_mcp_name(r[0]) != r[1], columns=("hdr", "name"))
