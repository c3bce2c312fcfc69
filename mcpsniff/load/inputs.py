"""What the user named -> the inputs of one capture.

A capture may be many files: rotated parts (``cap.jsonl``, ``cap.1.jsonl``, ...), a day's
files from several proxies, gzip beside plain. Each name given is:

- ``-``, an existing file, FIFO or ``/dev/fd/N``: itself;
- a directory: a Parquet export (``mcpsniff export --parquet``) when it holds ``.parquet``
  files, else every capture file directly in it (``.jsonl``, ``.har``, ``.flow``/``.mitm``,
  each also ``.gz``);
- a glob pattern (``*``, ``?``, ``[...]``, ``**``), quoted so the shell leaves it alone:
  the files it matches, sorted;
- the ``output`` an in-process recorder was given (``captures/server.jsonl``), when no such file
  exists but the recorder's per-process files do (``server.pid4242.jsonl``, its rotated parts
  ``server.pid4242.1.jsonl`` ..., see ``capture.asgi.process_path``): those files, with a
  :attr:`Input.note` naming them;
- anything else: itself (opening it then says what is wrong).

The same file named twice is read once. Order does not matter: the model orders every
exchange by time, input and line order breaking ties.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from ..errors import NotFound

#: file names a directory is read for
CAPTURE_SUFFIXES = (".jsonl", ".har", ".flow", ".flows", ".mitm")
PARQUET = "parquet"


@dataclass(frozen=True)
class Input:
    name: str
    kind: str = "file"  # "file" (any stream load.read takes) or "parquet" (an export directory)
    note: str | None = None  # how a name the user gave became this input, when it is not plain


def process_parts(output: str) -> list[str]:
    """The files an in-process recorder given ``output`` wrote, one set per worker process
    (``cap.jsonl`` -> ``cap.pid4242.jsonl``, ``cap.pid4242.1.jsonl`` ..., each also ``.gz``),
    sorted by process id and part."""
    stem = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    pattern = re.compile(re.escape(os.path.basename(stem)) + r"\.pid(\d+)(?:\.(\d+))?\.jsonl(?:\.gz)?")
    found = []
    for path in glob.glob(glob.escape(stem) + ".pid*.jsonl*"):
        m = pattern.fullmatch(os.path.basename(path))
        if m and os.path.isfile(path):
            found.append((int(m.group(1)), int(m.group(2) or 0), path))
    return [p for *_, p in sorted(found)]


def _capture_files(directory: str) -> list[str]:
    out = []
    for entry in sorted(os.listdir(directory)):
        base = entry[:-3] if entry.endswith(".gz") else entry
        path = os.path.join(directory, entry)
        if base.endswith(CAPTURE_SUFFIXES) and os.path.isfile(path):
            out.append(path)
    return out


def is_parquet_dir(path: str) -> bool:
    return os.path.isdir(path) and bool(glob.glob(os.path.join(glob.escape(path), "**", "*.parquet"), recursive=True))


def expand(names: list[str]) -> list[Input]:
    """The inputs these names stand for (see the module docstring); NotFound for a pattern or a
    directory that holds no capture."""
    out: list[Input] = []
    for name in names:
        if name == "-" or os.path.exists(name) and not os.path.isdir(name):
            found = [Input(name)]
        elif os.path.isdir(name):
            if is_parquet_dir(name):
                found = [Input(name, PARQUET)]
            else:
                found = [Input(p) for p in _capture_files(name)]
                if not found:
                    raise NotFound(f"{name}: a directory without capture files ({', '.join(CAPTURE_SUFFIXES)}, also .gz) "
                                   "or a Parquet export")
        elif glob.has_magic(name):
            matched = sorted(p for p in glob.glob(name, recursive=True) if not os.path.isdir(p))
            if not matched:
                raise NotFound(f"{name}: the pattern matches no file")
            found = [Input(p) for p in matched]
        elif parts := process_parts(name):
            note = (f"{name} is not a file: read as one capture from the in-process recorder's "
                    f"per-process files {', '.join(parts)}")
            found = [Input(p, note=note) for p in parts]
        else:
            found = [Input(name)]
        out += found
    seen: set[str] = set()
    unique = []
    for i in out:
        key = i.name if i.name == "-" else os.path.realpath(i.name)
        if key not in seen:
            seen.add(key)
            unique.append(i)
    return unique
