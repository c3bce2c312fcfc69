"""The exchange table as Parquet: ``mcpsniff export --parquet DIR`` writes it, ``mcpsniff analyze
DIR`` reads it back (to the same verdicts), and any engine reads it (DuckDB, Spark, ClickHouse,
pandas): the path for fleets whose logs outgrow one file.

Layout: Hive partitions by UTC day of the request, ``DIR/day=YYYY-MM-DD/data_0.parquet``, zstd
compressed; one row per exchange with the columns the analysis reads
(:data:`mcpsniff.model.columns.COLUMNS`, documented in docs/schema.md), plus ``source`` (the
capture file the row came from, ``src`` its position among the inputs, ``line`` its line there). The rows are
redacted as recorded: nothing leaves that was not in the capture.
"""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING

from ..errors import UsageError
from .columns import COLUMNS
from .sql import quote as _lit

if TYPE_CHECKING:
    from .model import Model

#: the columns of every file (the partition column ``day`` comes from the directory names)
FILE_COLUMNS = tuple(c.name for c in COLUMNS) + ("source",)
PARTITION = "day"
DAY_MICROS = 86_400_000_000




def relation(directory: str) -> str:
    """SQL reading every Parquet file under ``directory`` (its ``day=`` partitions included)."""
    pattern = os.path.join(glob.escape(directory), "**", "*.parquet")
    return f"read_parquet({_lit(pattern)}, hive_partitioning = true, union_by_name = true)"


def write(model: "Model", directory: str) -> int:
    """Write the model's exchanges under ``directory`` (new or empty); returns the rows written.

    One file per day, each written on its own (rows by time): DuckDB's ``PARTITION_BY`` is several
    times slower for the same files and can run out of the default memory limit."""
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise UsageError(f"{directory}: exists and is not an empty directory; name a new one")
    names = [i.name for i in model.inputs]
    source = "CASE src " + " ".join(f"WHEN {i} THEN {_lit(n)}" for i, n in enumerate(names)) + " END"
    cols = ", ".join(c for c in FILE_COLUMNS if c != "source")
    micros = "(t_req * 1000000)::BIGINT"  # the request's time as make_timestamp takes it: a day is 86400e6 of them
    days = model.con.execute(f"""
        SELECT d, strftime(make_timestamp(d * {DAY_MICROS}), '%Y-%m-%d')
        FROM (SELECT DISTINCT {micros} // {DAY_MICROS} AS d FROM m) ORDER BY d""").fetchall()
    os.makedirs(directory, exist_ok=True)
    for d, name in days:
        if d is None:  # no time (a Parquet input can lack one): Hive's name for a NULL partition
            name, where = "__HIVE_DEFAULT_PARTITION__", "t_req IS NULL"
        else:
            where = f"{micros} // {DAY_MICROS} = {int(d)}"
        part = os.path.join(directory, f"{PARTITION}={name}")
        os.mkdir(part)
        model.con.execute(f"""
            COPY (SELECT {cols}, {source} AS source FROM m WHERE {where} ORDER BY pos)
            TO {_lit(os.path.join(part, "data_0.parquet"))} (FORMAT parquet, COMPRESSION zstd)""")
    return model.n
