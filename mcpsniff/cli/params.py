"""Plain coercion of the command line's values: text, whole numbers, flags, choices, and lists and
pairs of them -- every kind of parameter mcpsniff declares.

Typer (0.2x) coerces every parameter through a pydantic ``TypeAdapter``, built when a command
runs: importing pydantic and building the adapters costs a command more than importing Typer
itself. :func:`install` gives each parameter of these kinds a coercion of its own (the same values
and the same errors, in mcpsniff's words); a parameter of any other kind, or a Typer without this
hook (its runtime parameter), keeps Typer's own.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any, Callable

_UNSUPPORTED = object()
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _coercer(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    """A function coercing one value of ``annotation``, raising ValueError with the message to
    show; None when the annotation is of a kind this module leaves to Typer."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return None
        one = _coercer(inner[0], info)
        return None if one is None else (lambda v: None if v is None else one(v))
    if origin in (list, tuple):
        items = [_coercer(a, info) for a in args if a is not Ellipsis]
        if not items or any(c is None for c in items):
            return None
        if origin is list:
            return lambda v: [items[0](x) for x in (v if isinstance(v, (list, tuple)) else [v])]
        return lambda v: tuple(c(x) for c, x in zip(items, v))
    if origin is not None:
        return None
    if annotation is str:
        return lambda v: v if isinstance(v, str) else str(v)
    if annotation is bool:
        return _bool
    if annotation is int:
        return lambda v: _int(v, info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return lambda v: _choice(annotation, v, info)
    return None


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE or s in _FALSE:
        return s in _TRUE
    raise ValueError(f"{v!r} is not true or false")


def _int(v: Any, info: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a whole number")
    if isinstance(v, int):
        n = v
    else:
        try:
            n = int(str(v).strip(), 10)
        except ValueError:
            raise ValueError(f"{v!r} is not a whole number") from None
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if low is not None and n < low:
        raise ValueError(f"{v!r} is less than {low}")
    if high is not None and n > high:
        raise ValueError(f"{v!r} is more than {high}")
    return n


def _choice(enum: type[Enum], v: Any, info: Any) -> Enum:
    if isinstance(v, enum):
        return v
    fold = not getattr(info, "case_sensitive", True)
    for member in enum:
        if member.value == v or (fold and str(member.value).casefold() == str(v).casefold()):
            return member
    raise ValueError(f"{v!r} is not one of " + ", ".join(str(m.value) for m in enum))


def install(command: Any, params: Any) -> None:
    """Give each of ``params`` (parameters of ``command``) that this module can coerce its plain
    coercion (a no-op with a Typer that has no runtime parameters)."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - another Typer: its own coercion stays
        return

    class PlainParam(RuntimeParam):  # type: ignore[misc, valid-type]
        def __init__(self, parameter_info: Any, annotation: Any, fn: Callable[[Any], Any]) -> None:
            super().__init__(parameter_info=parameter_info, annotation=annotation)
            object.__setattr__(self, "fn", fn)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.fn(value)  # type: ignore[attr-defined]
            except ValueError as e:
                raise BadParameter(str(e), ctx=ctx, param=param) from None

    for param in params:
        td = getattr(param, "type_descriptor", None)
        if td is None or getattr(param, "_runtime_param", _UNSUPPORTED) is not None or td.file_annotation is not None:
            continue
        fn = _coercer(td.annotation, td.parameter_info)
        if fn is not None:
            param._runtime_param = PlainParam(td.parameter_info, td.annotation, fn)
