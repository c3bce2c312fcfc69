"""The live summary shown while ``mcpsniff capture`` runs.

It classifies with the analysis's own code: every recorded exchange becomes a
model row (``model.row_of``) and a refresh derives planes, sessions and echo
classes with ``model.derive`` and counts them with ``Model.plane_facts``, the
numbers ``mcpsniff analyze`` prints for the same file.  Exchanges "without a
response" are ``Model.NO_RESPONSE`` of MCP traffic, what the rule on exchanges
without a response counts: a client that disconnects after a complete response (mitmproxy's
``Client disconnected.``) is no failure.  Refreshes are spaced by how long the
last one took, so a long capture costs the proxy little.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from .. import model
from ..load import InputInfo
from ..render.layout import ID, NUM, Col, FitTable
from ..render.text import plural
from ..schema import KIND_EXCHANGE

CHUNK = 4096  # rows per frozen chunk


@dataclass
class PlaneCount:
    requests: int = 0
    issued: int = 0  # sessions issued by a successful initialize
    echoed: int = 0  # requests that repeated an id issued to this plane
    dropped: int = 0  # requests without it although this plane's server issued one


class LiveSummary:
    """Fed one record at a time (any thread); :meth:`snapshot` classifies like analyze."""

    def __init__(self) -> None:
        self._chunks: list[Any] = []
        self._rows: list[tuple] = []
        self.exchanges = 0
        self.no_response = 0  # MCP exchanges that got no response (as of the last refresh)
        self.events = 0
        self._lock = threading.Lock()
        self._cached: tuple[int, list[tuple[str, PlaneCount]]] = (0, [])
        self.compute_seconds = 0.0

    def add(self, rec: dict[str, Any]) -> None:
        if rec.get("kind") != KIND_EXCHANGE:
            return
        try:
            row = model.row_of(rec, 0, self.exchanges + 1)
        except Exception:  # noqa: BLE001 - a record analyze would skip is skipped here too
            return
        resp = rec.get("resp") or {}
        with self._lock:
            self.exchanges += 1
            self.events += len(resp.get("sse") or ())
            self._rows.append(row)
            if len(self._rows) >= CHUNK:
                self._chunks.append(self._rows)
                self._rows = []

    def planes(self) -> list[tuple[str, PlaneCount]]:
        """Per plane (busiest first): requests, sessions issued, header echoed / dropped."""
        with self._lock:
            n = self.exchanges
            if n == self._cached[0]:
                return self._cached[1]
            chunks = [*self._chunks, self._rows[:]]  # a copy: add() goes on appending
        t = time.perf_counter()
        m = model.from_rows(chunks, InputInfo("(live)", "jsonl", n))
        try:
            facts = m.plane_facts()
            no_response = m.count(f"{m.NO_RESPONSE} AND {m.MCP}")
        finally:
            m.close()
        rows = [
            (p["user_agent"], PlaneCount(p["requests"], p["sessions_issued"], p["session_header"]["echoed"], p["session_header"]["dropped"]))
            for p in facts
        ]
        rows.sort(key=lambda r: -r[1].requests)
        self.no_response = no_response
        self.compute_seconds = time.perf_counter() - t
        self._cached = (n, rows)
        return rows

    def totals(self) -> str:
        """``12 exchanges (0 without a response, 3 SSE events)``."""
        return (f"{plural(self.exchanges, 'exchange')} ({self.no_response:,} without a response, "
                f"{plural(self.events, 'SSE event')})")

    def line(self) -> str:
        rows = self.planes()
        parts = [self.totals()]
        for ua, p in rows:
            parts.append(f"{ua!r}: {p.requests} req, {plural(p.issued, 'session')} issued, {p.echoed} echoed, {p.dropped} dropped")
        return "; ".join(parts)

    def table(self, title: str = "") -> Any:
        from rich.console import Group
        from rich.text import Text

        from ..render.layout import Para

        rows = self.planes()
        # the words of analyze's planes table: sessions issued, Mcp-Session-Id echoed / dropped
        t = FitTable([title] if title else [], (Col("User-Agent", ID), Col("requests", NUM), Col("sessions", NUM),
                                                 Col("echoed", NUM), Col("dropped", NUM)))
        for ua, p in rows:
            t.add_row(ua, str(p.requests), str(p.issued), str(p.echoed), Text(str(p.dropped), style="bold red" if p.dropped else ""))
        return Group(t, Para([self.totals()], style="dim"))

    def pause(self, minimum: float) -> float:
        """Seconds to wait before the next refresh: at least ``minimum``, 20x the last refresh."""
        return max(minimum, 20 * self.compute_seconds)


async def show(cap: Any, summary: LiveSummary, err: TextIO, *, live_ui: bool, quiet: bool, interval: float,
               on_ready: Any = None) -> None:
    """Wait for the proxy, call ``on_ready``, then keep the summary on ``err`` up to date."""
    while not cap.ready.is_set():
        await asyncio.sleep(0.05)
    if cap.error is not None or not cap.listen_addrs:
        return
    if on_ready:
        on_ready(cap)
    if quiet:
        while True:
            await asyncio.sleep(3600)
    if not live_ui:
        last = None
        while True:
            await asyncio.sleep(summary.pause(interval))
            line = await asyncio.to_thread(summary.line)
            if line != last:
                print(f"mcpsniff: {line}", file=err, flush=True)
                last = line
    from rich.console import Console
    from rich.live import Live

    console = Console(file=err)
    title = f"mcpsniff -> {cap.output_paths[-1]}  (Ctrl-C to stop)"
    with Live(summary.table(title), console=console, refresh_per_second=2, transient=False) as live:
        while True:
            await asyncio.sleep(summary.pause(0.5))
            live.update(await asyncio.to_thread(summary.table, title))
