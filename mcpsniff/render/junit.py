"""The analysis document as JUnit XML (``mcpsniff analyze --format junit``), for CI test reports.

One ``testsuite`` per plane and one ``testcase`` per rule it was checked against
(the document's ``planes[].rules_checked``; classname = the User-Agent, name = the rule
id).  A finding at or above ``--fail-on`` is a ``failure`` (what makes analyze exit 1);
a finding below it stays a passing testcase whose ``system-out`` says what was seen.
When most of the capture's traffic failed (``summary.capture_failed``, which also exits
1), a ``capture`` suite says so.  Counts (tests, failures) are on every suite and on
``testsuites``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..mcp import at_or_above
from .text import capture_failed_line, source_name


def _finding_text(f: dict[str, Any]) -> str:
    spec = f["spec"]
    methods = ", ".join(f"{k} x{v}" for k, v in f["by_method"].items())
    lines = [
        f"{f['severity']} {f['rule']}: {f['title']}",
        f"plane: {f['plane']}",
        f"{f['detail'] or f['count']}" + (f" [{methods}]" if methods else ""),
        f"party: {f['party']}; count: {f['count']}",
        f"{source_name(spec)} {spec['section']}: {spec['url']}",
        f"> {spec['quote']}",
    ]
    if f["evidence"]:
        lines.append("evidence: " + ", ".join(e["source"] for e in f["evidence"])
                     + (f" (of {f['evidence_total']})" if f["evidence_total"] > len(f["evidence"]) else ""))
    return "\n".join(lines) + "\n"


def _suite(parent: ET.Element, name: str, timestamp: str | None) -> ET.Element:
    s = ET.SubElement(parent, "testsuite", name=name)
    if timestamp:
        s.set("timestamp", timestamp.rstrip("Z"))
    return s


def _count(suite: ET.Element) -> tuple[int, int]:
    cases = suite.findall("testcase")
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    return len(cases), failures


def tree(doc: dict[str, Any], fail_on: str = "error") -> ET.Element:
    failing = at_or_above(fail_on)
    root = ET.Element("testsuites", name="mcpsniff")
    start = doc["capture"]["start"]
    by_plane: dict[str, dict[str, dict[str, Any]]] = {}
    for f in doc["findings"]:
        by_plane.setdefault(f["plane"], {})[f["rule"]] = f
    for p in doc["planes"]:
        ua = p["user_agent"]
        suite = _suite(root, ua, start)
        props = ET.SubElement(suite, "properties")
        for k in ("verdict", "era", "requests"):
            ET.SubElement(props, "property", name=k, value=str(p[k]))
        found = by_plane.get(ua, {})
        for rule in p["rules_checked"] + [r for r in found if r not in p["rules_checked"]]:
            case = ET.SubElement(suite, "testcase", classname=ua, name=rule)
            f = found.get(rule)
            if f is None:
                continue
            if f["severity"] in failing:
                fail = ET.SubElement(case, "failure", type=f["severity"], message=f"{f['title']}: {f['detail'] or f['count']}")
                fail.text = _finding_text(f)
            else:
                ET.SubElement(case, "system-out").text = f"below --fail-on {fail_on}:\n" + _finding_text(f)
    broken = capture_failed_line(doc["summary"])
    if broken:
        suite = _suite(root, "capture", start)
        case = ET.SubElement(suite, "testcase", classname="capture", name="traffic-worked")
        if failing:
            ET.SubElement(case, "failure", type="capture-failed", message=broken).text = broken + "\n"
        else:
            ET.SubElement(case, "system-out").text = broken + "\n"
    tests = failures = 0
    for suite in root.findall("testsuite"):
        t, fl = _count(suite)
        tests += t
        failures += fl
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", "0")
    return root


def render(doc: dict[str, Any], fail_on: str = "error") -> str:
    root = tree(doc, fail_on)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
