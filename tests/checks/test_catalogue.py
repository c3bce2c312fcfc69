"""The rule catalogue is well-formed data and its lookups pick the right citation."""

import dataclasses
import re

import pytest

from mcpsniff.checks import catalogue as rules


URL = re.compile(
    r"^https://modelcontextprotocol\.io/specification/"
    r"(?P<version>\d{4}-\d{2}-\d{2})/(?:basic|server|client)/[a-z/-]+#[a-z0-9_-]+$"
)

ALL_RULES = list(rules.RULES.values())


def test_every_rule_has_exactly_one_check():
    from mcpsniff.checks import CHECKS

    assert set(CHECKS) == set(rules.RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_scope_fields(rule):
    """``since`` is the oldest version the rule is cited for; the detail template names only known values."""
    if rule.since is not None:
        assert rule.since == min(rule.versions)
        assert rule.since in rules.VERSION_ERAS
    assert rule.detail.strip() and "\n" not in rule.detail


def test_keys_match_ids_and_are_unique():
    assert [r.id for r in ALL_RULES] == list(rules.RULES)
    assert len({r.id for r in ALL_RULES}) == len(ALL_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_fields(rule):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.id)
    assert rule.severity in ("error", "warning", "info")
    assert rule.party in ("client", "server", "any")
    assert set(rule.likely_causes) <= set(rules.RULES)
    assert all(rules.get(c).party == "server" for c in rule.likely_causes)
    assert rule.title.strip() and "\n" not in rule.title
    assert len(rule.explanation) > 80
    assert rule.eras and set(rule.eras) <= set(rules.ERAS)
    assert rule.versions and set(rule.versions) <= set(rules.VERSION_ERAS)
    assert rule.citations


OTHER_SOURCES = {
    "RFC 9110": re.compile(r"^https://www\.rfc-editor\.org/rfc/rfc9110#section-[\d.]+$"),
    "Fetch Standard": re.compile(r"^https://fetch\.spec\.whatwg\.org/#[a-z0-9-]+$"),
}


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_citations(rule):
    mcp = [c for c in rule.citations if c.source == "MCP"]
    others = [c for c in rule.citations if c.source != "MCP"]
    # another standard's citation, if any, comes first: it is the one the finding quotes
    assert rule.citations[: len(others)] == tuple(others)
    versions = [c.version for c in mcp]
    assert versions == sorted(versions, reverse=True), "citations must be newest first"
    assert len(set(versions)) == len(versions), "one citation per version"
    assert set(versions) <= set(rule.versions)
    for c in mcp:
        m = URL.match(c.url)
        assert m, c.url
        assert m["version"] == c.version
    for c in others:
        assert c.version is None and OTHER_SOURCES[c.source].match(c.url), (c.source, c.url)
    for c in rule.citations:
        assert c.section.strip()
        assert c.quote.strip()
        assert "**" not in c.quote and "`" not in c.quote and "](" not in c.quote


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_severity_matches_wording(rule):
    """error rules quote a MUST, warning rules a SHOULD, in every cited MCP version (rules resting
    on another standard first: a MUST in one of their citations)."""
    mcp = [c for c in rule.citations if c.source == "MCP"]
    other_first = rule.citations[0].source != "MCP"
    word = {"error": "MUST", "warning": "SHOULD"}.get(rule.severity)
    if word is None:
        return
    if other_first:
        assert any(word in c.quote for c in rule.citations), rule.id
    else:
        for c in mcp:
            assert word in c.quote, (rule.id, c.version)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_eras_cover_versions(rule):
    eras_of_versions = {rules.VERSION_ERAS[v] for v in rule.versions}
    assert eras_of_versions <= set(rule.eras)


def test_frozen():
    rule = rules.get("session-id-dropped")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.severity = "info"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.citations[0].quote = ""  # type: ignore[misc]


def test_get_unknown_id_names_it():
    with pytest.raises(KeyError, match="no-such-rule"):
        rules.get("no-such-rule")


def test_citation_for_picks_version():
    assert rules.citation_for("session-id-dropped", "2025-06-18").version == "2025-06-18"
    assert "Mcp-Session-Id" in rules.citation_for("session-id-dropped", "2025-06-18").quote
    assert "MCP-Session-Id" in rules.citation_for("session-id-dropped", "2025-11-25").quote
    assert rules.citation_for("batch-not-allowed", "2026-07-28").version == "2026-07-28"
    assert "/basic/transports/streamable-http#" in rules.citation_for(
        "batch-not-allowed", "2026-07-28"
    ).url


def test_citation_for_falls_back_to_newest():
    assert rules.citation_for("session-id-dropped", None).version == "2025-11-25"
    assert rules.citation_for("session-id-dropped", "2024-11-05").version == "2025-11-25"
    assert rules.citation_for("era-probe", None).version == "2026-07-28"
    with pytest.raises(KeyError):
        rules.citation_for("no-such-rule", None)


def test_version_scoping():
    # protocol-version header rules start with 2025-06-18; batches are allowed in 2025-03-26
    assert rules.get("protocol-version-header-missing").versions == ("2025-06-18", "2025-11-25")
    assert "2025-03-26" not in rules.get("batch-not-allowed").versions
    assert rules.get("modern-meta-missing").eras == ("modern",)
    # 2025-03-26 lets notification POSTs be batches
    assert "solely" in rules.citation_for("notification-not-202", "2025-03-26").quote


def test_every_rule_id_is_spelled_in_its_own_module_only():
    """A rule is one file: its id appears in no other source file of the package (not in a
    docstring or an example either), so renaming or removing a rule is one edit."""
    from pathlib import Path

    pkg = Path(rules.__file__).resolve().parents[1]
    sources = {p: p.read_text() for p in pkg.rglob("*.py")}
    for rid in rules.RULES:
        word = re.compile(rf"(?<![\w-]){re.escape(rid)}(?![\w-])")
        spelled = sorted(str(p.relative_to(pkg)) for p, text in sources.items() if word.search(text))
        assert spelled == [f"checks/rules/{rid.replace('-', '_')}.py"], (rid, spelled)


def test_catalogue_order_is_the_modules_order():
    """Reports, JSON and SARIF list rules in one stable order: the modules' ORDER."""
    import importlib

    orders = [importlib.import_module(f"mcpsniff.checks.rules.{rid.replace('-', '_')}").ORDER for rid in rules.RULES]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert list(rules.RULES)[:2] == ["session-id-dropped", "missing-session-accepted"]
