"""The exchange table as Parquet: ``mcpsniff export --parquet DIR`` writes it, ``mcpsniff analyze
DIR`` reads it back (to the same verdicts), and any engine reads it (DuckDB, Spark, ClickHouse,
pandas): the path for fleets whose logs outgrow one file.

Layout: Hive partitions by UTC day of the request, ``DIR/day=YYYY-MM-DD/data_0.parquet``, zstd
compressed; one row per exchange with the columns the analysis reads
(:data:`mcpsniff.model.rows.COLUMNS`, documented in docs/schema.md), plus ``source`` (the
capture file the row came from, ``src`` its position among the inputs, ``line`` its line there). The rows are
redacted as recorded: nothing leaves that was not in the capture.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING

from ..errors import UsageError
from .rows import COLUMNS

if TYPE_CHECKING:
    from .model import Model

#: the columns of every file (the partition column ``day`` comes from the directory names)
FILE_COLUMNS = tuple(c for c, _ in COLUMNS) + ("source",)
PARTITION = "day"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def relation(directory: str) -> str:
    """SQL reading every Parquet file under ``directory`` (its ``day=`` partitions included)."""
    pattern = os.path.join(glob.escape(directory), "**", "*.parquet")
    return f"read_parquet({_lit(pattern)}, hive_partitioning = true, union_by_name = true)"


def write(model: "Model", directory: str) -> int:
    """Write the model's exchanges under ``directory`` (new or empty); returns the rows written."""
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise UsageError(f"{directory}: exists and is not an empty directory; name a new one")
    names = [i.name for i in model.inputs]
    source = "CASE src " + " ".join(f"WHEN {i} THEN {_lit(n)}" for i, n in enumerate(names)) + " END"
    cols = ", ".join(c for c in FILE_COLUMNS if c != "source")
    day = "strftime(make_timestamp((t_req * 1000000)::BIGINT), '%Y-%m-%d')"
    model.con.execute(f"""
        COPY (SELECT {cols}, {source} AS source, {day} AS {PARTITION} FROM m ORDER BY pos)
        TO {_lit(directory)} (FORMAT parquet, PARTITION_BY ({PARTITION}), COMPRESSION zstd)""")
    return model.n
