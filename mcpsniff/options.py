"""The recorder's options, declared once: what each is, its default, its help, its flag.

The mitmproxy addon derives its options, the ASGI middleware its keyword arguments and ``mcpsniff
capture`` its flags from :data:`OPTIONS` (validation and use are in
:mod:`mcpsniff.capture.recorder`). Of the capture stage, outside its package: it imports nothing
heavy, so the CLI builds its flags without importing the capture package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from .units import parse_size

#: bytes of each body (and of a stream's event data) a record keeps by default
DEFAULT_BODY_LIMIT = 1 << 20


def _redact() -> Any:
    """The redaction module (its parsers validate names and patterns), imported when a value is parsed."""
    from .capture import redact

    return redact


@dataclass(frozen=True)
class Kind:
    """What sort of value an option holds, and how each adapter carries it."""

    name: str
    parse: Callable[[Any, "Option"], Any]  # a given value (or its text) -> the option's value; ValueError: why not
    mitmproxy_type: Any  # the type mitmproxy's option holds
    to_mitmproxy: Callable[[Any], Any]  # the option's value as mitmproxy holds it
    cli_type: Any  # the type of the capture command's parameter (None: not given)
    metavar: str = ""  # how help texts show a value


def _switch(v: Any, opt: "Option") -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, not {v!r}")
    return v


def _count(v: Any, opt: "Option") -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be a whole number, not {v!r}")
    if v < opt.least:
        raise ValueError(f"must be {opt.least} or more, not {v}")
    return v


def _size(v: Any, opt: "Option") -> int:
    if isinstance(v, str):
        v = parse_size(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be a number of bytes, not {v!r}")
    if v < opt.least:
        raise ValueError(f"must be {opt.least} or more bytes, not {v}")
    return v


def _path(v: Any, opt: "Option") -> Optional[str]:
    if v is None:
        return None
    try:
        path = os.fspath(v)
    except TypeError:
        raise ValueError(f"must be a file name, not {v!r}") from None
    return os.path.expanduser(path) if isinstance(path, str) else os.path.expanduser(os.fsdecode(path))


SWITCH = Kind("switch", _switch, bool, lambda v: v, bool)
COUNT = Kind("count", _count, int, lambda v: v, Optional[int], "N")
SIZE = Kind("size", _size, int, lambda v: v, Optional[str], "SIZE")  # bytes; text with k/M/G multiples (units.py)
PATH = Kind("path", _path, Optional[str], lambda v: v, Optional[str], "PATH")
NAMES = Kind("names", lambda v, o: tuple(_redact().parse_extra(v)), str, ",".join, Optional[list[str]], "NAME")  # text: comma-separated
PATTERNS = Kind("patterns", lambda v, o: tuple(_redact().parse_patterns(v)), str, "\n".join, Optional[list[str]], "REGEX")  # text: one a line


@dataclass(frozen=True)
class Option:
    """One recorder option, declared once (see :data:`OPTIONS`)."""

    name: str  # the middleware's keyword; ``mcpsniff_<name>`` in mitmproxy
    kind: Kind
    default: Any
    help: str
    flag: str | None = None  # ``mcpsniff capture``'s flag ("--no-x": a switch that turns an on-by-default option off)
    least: int = 0  # counts and sizes: the smallest value allowed
    only: str | None = None  # "asgi": the in-process recorder alone has it

    @property
    def mitmproxy_name(self) -> str:
        return f"mcpsniff_{self.name}"

    @property
    def negated(self) -> bool:
        """The flag turns the option off (``--no-redact``)."""
        return bool(self.flag and self.flag.startswith("--no-"))

    def from_flag(self, given: Any) -> Any:
        """The value a given flag stands for; ``_UNSET`` when the flag was not given."""
        if self.kind is SWITCH:
            return (not given if self.negated else given) if given else _UNSET
        return _UNSET if given is None else given


_UNSET = object()

#: Every recorder option.  A new one is one line here (and the code that uses its value:
#: ``recorder.options.<name>``); the mitmproxy option, the middleware's keyword argument and the
#: capture command's flag follow from it.
OPTIONS: tuple[Option, ...] = (
    Option("output", PATH, None, "JSONL file to append to; nothing is recorded while it is unset."),
    Option("redact", SWITCH, True, "Redact secrets (tokens, cookies, keys) in the record.", flag="--no-redact"),
    Option("redact_extra", NAMES, (), "Also redact this header / query parameter / JSON field name.", flag="--redact"),
    Option("redact_patterns", PATTERNS, (), "Also redact what this regular expression matches in URL path "
           "segments and text.", flag="--redact-pattern"),
    Option("body_limit", SIZE, DEFAULT_BODY_LIMIT, "Bytes of each body (and of a stream's event data) kept in the "
           "record.", flag="--body-limit"),
    Option("record_all", SWITCH, False, "Record every exchange, not only MCP ones.", flag="--all"),
    Option("rotate_mb", COUNT, 0, "Continue in FILE.1.jsonl, FILE.2.jsonl ... past N MiB (0: never).",
           flag="--rotate-mb"),
    Option("per_process", SWITCH, True, "Each worker process writes its own file, OUTPUT.pid<PID>.jsonl "
           "(off: OUTPUT as given, for a single process only).", only="asgi"),
    Option("queue_size", COUNT, 10_000, "Records waiting for the writer thread at most (more are dropped, "
           "counted and reported).", least=1, only="asgi"),
)
BY_NAME = {o.name: o for o in OPTIONS}




def keyword(opt: Option) -> str:
    return opt.name


def flags(opts: Iterable[Option] = OPTIONS) -> list[Option]:
    """The options ``mcpsniff capture`` offers as flags, in declaration order."""
    return [o for o in opts if o.flag is not None and o.only != "asgi"]
