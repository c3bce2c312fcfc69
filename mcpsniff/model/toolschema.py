"""Tool results against their tool's ``outputSchema``, bounded.

A tool that declares an ``outputSchema`` in ``tools/list`` must answer ``tools/call`` with
``structuredContent`` that validates against it (MCP 2025-06-18 and later). The schema and the
content are the server's, so both may be huge or hostile: a schema is judged only when it is at most
:data:`MAX_SCHEMA_CHARS` long and :data:`MAX_DEPTH` deep, has no ``pattern`` that can backtrack
without end (a quantified group holding a quantifier), and validates as a schema of its dialect;
at most :data:`MAX_PAIRS` distinct (schema, content) pairs are validated, within :data:`BUDGET_S`
seconds in all. What is not judged is counted (:class:`Outcome`), never guessed.

The dialect is JSON Schema 2020-12 unless the schema's ``$schema`` names another one jsonschema
knows; references are resolved inside the schema only (nothing is fetched).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema import validators

MAX_SCHEMA_CHARS = 64 * 1024
MAX_CONTENT_CHARS = 1024 * 1024
MAX_DEPTH = 32
MAX_PAIRS = 20_000
BUDGET_S = 5.0
#: a group that repeats and holds a repetition: the shape of a regular expression that can take
#: exponential time ("(a+)+", "(x*)*", "(a|aa)+" is not caught: patterns are also cut at MAX_PATTERN)
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
MAX_PATTERN = 200

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
               type(None): "null"}


@dataclass
class Outcome:
    """What validating a capture's tool results gave: per pair index, what is wrong (absent: it
    validated), and what could not be judged, with why."""

    bad: dict[int, str] = field(default_factory=dict)
    not_judged: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str, n: int = 1) -> None:
        self.not_judged[why] = self.not_judged.get(why, 0) + n


def _depth(v: Any, limit: int) -> int:
    """Nesting depth of a JSON value, counted up to ``limit + 1``."""
    stack, deepest = [(v, 1)], 0
    while stack:
        x, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(x, dict):
            stack.extend((y, d + 1) for y in x.values())
        elif isinstance(x, list):
            stack.extend((y, d + 1) for y in x)
    return deepest


def _patterns(v: Any):
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            for k, y in x.items():
                if k == "pattern" and isinstance(y, str):
                    yield y
                elif k == "patternProperties" and isinstance(y, dict):
                    yield from (p for p in y if isinstance(p, str))
                stack.append(y)
        elif isinstance(x, list):
            stack.extend(x)


def _hostile(schema: Any) -> str | None:
    """Why a schema is not judged, or None."""
    if _depth(schema, MAX_DEPTH) > MAX_DEPTH:
        return f"outputSchema nested deeper than {MAX_DEPTH}"
    for p in _patterns(schema):
        if len(p) > MAX_PATTERN or _NESTED_QUANTIFIER.search(p):
            return "outputSchema pattern that may backtrack without end"
    return None


def _type_name(v: Any) -> str:
    return _JSON_TYPES.get(type(v), type(v).__name__)


def _path(parts) -> str:
    out = "result.structuredContent"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _describe(err: jsonschema.ValidationError) -> str:
    """``result.structuredContent.count: expected integer, got string``."""
    if err.validator == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{_path(err.absolute_path)}: expected {want}, got {_type_name(err.instance)}"
    msg = err.message if len(err.message) <= 120 else err.message[:117] + "..."
    return f"{_path(err.absolute_path)}: {msg}"


def validate_pairs(pairs: list[tuple[int, str, str | None]]) -> Outcome:
    """Validate (index, schema JSON, structuredContent JSON or None) pairs."""
    out = Outcome()
    validators_by_schema: dict[str, Any] = {}
    start = time.monotonic()
    for n, (k, schema_text, content_text) in enumerate(pairs):
        if n >= MAX_PAIRS:
            out.skip(f"more than {MAX_PAIRS} distinct tool results", len(pairs) - n)
            break
        if time.monotonic() - start > BUDGET_S:
            out.skip(f"validation past its {BUDGET_S:g} s budget", len(pairs) - n)
            break
        if content_text is None:
            out.bad[k] = "result.structuredContent: missing"
            continue
        if len(schema_text) > MAX_SCHEMA_CHARS:
            out.skip(f"outputSchema over {MAX_SCHEMA_CHARS // 1024} KiB")
            continue
        if len(content_text) > MAX_CONTENT_CHARS:
            out.skip(f"structuredContent over {MAX_CONTENT_CHARS // 1024} KiB")
            continue
        v = validators_by_schema.get(schema_text)
        if v is None:
            v = _validator(schema_text)
            validators_by_schema[schema_text] = v
        if isinstance(v, str):
            out.skip(v)
            continue
        try:
            content = json.loads(content_text)
            if _depth(content, 4 * MAX_DEPTH) > 4 * MAX_DEPTH:
                out.skip("structuredContent nested too deep")
                continue
            err = jsonschema.exceptions.best_match(v.iter_errors(content))
        except (RecursionError, ValueError, jsonschema.exceptions.SchemaError, LookupError) as e:
            out.skip(f"outputSchema not usable ({type(e).__name__})")
            continue
        except Exception as e:  # a reference that does not resolve, ...: the schema cannot be applied
            out.skip("outputSchema has a $ref that does not resolve inside it" if "Referencing" in type(e).__name__
                     else f"outputSchema not usable ({type(e).__name__})")
            continue
        if err is not None:
            out.bad[k] = _describe(err)
    return out


def _validator(schema_text: str) -> Any:
    """A validator for the schema, or why there is none."""
    try:
        schema = json.loads(schema_text)
    except ValueError:
        return "outputSchema is not JSON"
    if not isinstance(schema, (dict, bool)):
        return "outputSchema is not a schema"
    why = _hostile(schema)
    if why:
        return why
    cls = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError:
        return "outputSchema is not a valid schema"
    except RecursionError:
        return f"outputSchema nested deeper than {MAX_DEPTH}"
    return cls(schema)
