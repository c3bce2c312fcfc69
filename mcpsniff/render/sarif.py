"""The analysis document as SARIF 2.1.0 (``mcpsniff analyze --format sarif``), for code-scanning UIs.

- ``tool.driver.rules``: every rule of the catalogue (the document's ``rules``), with its
  spec section as ``helpUri`` and its severity as the default level;
- one result per finding: level from its severity (error, warning, info -> note), the
  capture file and line of its first evidence exchange as the physical location (for HAR
  and flow files the entry number goes to the location's properties instead: they have
  no lines), the plane as the logical location.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import orjson

from .text import source_name

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    """A capture path as a URI reference: relative stays relative, absolute becomes file://."""
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    return quote(path)


def _name(rule_id: str) -> str:
    """``some-rule-id`` -> ``SomeRuleId`` (SARIF's rule ``name`` is an identifier)."""
    return "".join(w[:1].upper() + w[1:] for w in rule_id.replace("_", "-").split("-"))


def rule(r: dict[str, Any]) -> dict[str, Any]:
    spec = r["spec"]
    where = f"{source_name(spec)} {spec['section']}"
    return {
        "id": r["id"],
        "name": _name(r["id"]),
        "shortDescription": {"text": r["title"]},
        "fullDescription": {"text": r["explanation"]},
        "helpUri": spec["url"],
        "help": {"text": f"{r['explanation']}\n\n{where}: {spec['url']}",
                 "markdown": f"{r['explanation']}\n\n[{where}]({spec['url']})"},
        "defaultConfiguration": {"level": LEVEL[r["severity"]]},
        "properties": {"party": r["party"], "eras": r["eras"], "tags": ["mcp", r["party"]]},
    }


def _location(f: dict[str, Any], inputs: dict[str, tuple[int, str]]) -> dict[str, Any] | None:
    if not f["evidence"]:
        return None
    path, _, line = f["evidence"][0]["source"].rpartition(":")
    if path not in inputs or path == "-":
        return None
    index, fmt = inputs[path]
    phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(path), "index": index}}
    loc: dict[str, Any] = {"physicalLocation": phys}
    if line.isdigit() and int(line) > 0:
        if fmt == "jsonl":
            phys["region"] = {"startLine": int(line)}
        else:
            loc["properties"] = {"entry": int(line)}
    return loc


def result(f: dict[str, Any], rule_index: int, inputs: dict[str, tuple[int, str]]) -> dict[str, Any]:
    loc = _location(f, inputs) or {}
    loc["logicalLocations"] = [{"name": f["plane"], "fullyQualifiedName": f["plane"], "kind": "resource"}]
    methods = ", ".join(f"{k} x{v}" for k, v in f["by_method"].items())
    text = f"{f['title']} (plane {f['plane']!r}): {f['detail'] or str(f['count']) + ' exchanges'}" + (f" [{methods}]" if methods else "")
    return {
        "ruleId": f["rule"],
        "ruleIndex": rule_index,
        "level": LEVEL[f["severity"]],
        "message": {"text": text},
        "locations": [loc],
        "partialFingerprints": {"mcpsniffFinding/v1": f"{f['rule']}|{f['plane']}"},
        "properties": {
            "plane": f["plane"], "party": f["party"], "count": f["count"], "by_method": f["by_method"],
            "evidence": [e["source"] for e in f["evidence"]], "evidence_total": f["evidence_total"], "spec": f["spec"],
        },
    }


def log(doc: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log object of an analysis document."""
    index = {r["id"]: i for i, r in enumerate(doc["rules"])}
    inputs = {i["path"]: (k, i["format"]) for k, i in enumerate(doc["inputs"])}
    artifacts = [{"location": {"uri": _uri(i["path"]) if i["path"] != "-" else "stdin"}, "roles": ["analysisTarget"]}
                 for i in doc["inputs"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": "mcpsniff", "version": doc["mcpsniff"]["version"],
                                    "semanticVersion": doc["mcpsniff"]["version"], "rules": [rule(r) for r in doc["rules"]]}},
                "invocations": [{"executionSuccessful": True}],
                "artifacts": artifacts,
                "results": [result(f, index[f["rule"]], inputs) for f in doc["findings"]],
                "properties": {"summary": doc["summary"], "capture": doc["capture"]},
            }
        ],
    }


def render(doc: dict[str, Any]) -> str:
    return orjson.dumps(log(doc), option=orjson.OPT_INDENT_2).decode() + "\n"
