"""mitmproxy flows -> schema records, through the capture's own conversion.

Shared by the HAR and flow-file readers, so all input formats end up as the
records the capture addon writes (redacted the same way, with one key per input).
"""

from __future__ import annotations

from typing import Any, Iterator

from .base import Reading


def flow_records(r: Reading, flows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    # the capture's conversion, imported when a flow-based input is read: a JSONL capture
    # never imports the recorder
    from ..capture.convert import exchange_record
    from ..capture.redact import Redactor
    from ..capture.writer import storable

    redactor = Redactor()  # secrets in imported files are redacted too, keyed per input
    for idx, flow in flows:
        try:
            rec = storable(exchange_record(flow, redactor=redactor))
        except Exception as e:  # noqa: BLE001 - any damaged flow is reported, never a traceback
            r.problem(idx, f"unusable flow ({type(e).__name__}: {e})")
            continue
        yield idx, rec
