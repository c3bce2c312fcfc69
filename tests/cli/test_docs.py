"""The docs say what the code does: generated parts are current, commands are real."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from typer.testing import CliRunner

from mcpsniff.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
runner = CliRunner()


def test_readme_rules_table_is_generated_from_the_catalogue():
    block = README.split("<!-- rules:start -->\n", 1)[1].split("<!-- rules:end -->", 1)[0]
    assert block == runner.invoke(app, ["rules", "-f", "markdown"]).stdout


def _update_docs():
    spec = importlib.util.spec_from_file_location("update_docs", ROOT / "scripts" / "update_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_generated_examples_are_what_the_commands_print(name):
    """Command output shown in the docs (<!-- generated: ... -->) is current: run scripts/update_docs.py."""
    ud = _update_docs()
    text = (ROOT / name).read_text()
    assert ud.comparable(ud.updated(text, name)) == ud.comparable(text), f"{name} is out of date: run scripts/update_docs.py"


def test_docs_have_generated_examples():
    blocks = [m.group("cmd") for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
              for m in _update_docs().GENERATED.finditer(p.read_text())]
    examples = [b for b in blocks if "scripts/options_table.py" not in b]  # the rest: tables of the capture options
    assert len(examples) >= 7 and all("samples/" in b for b in examples)
    assert {b.split()[-1] for b in blocks if b not in examples} == {"capture", "mitmproxy", "asgi"}


def test_readme_two_commands_use_real_files():
    blocks = re.findall(r"```bash\n# \d\. .*\n(.*)\n```", README)
    assert len(blocks) >= 2
    setup_and_run, test = blocks[0], blocks[1]
    assert setup_and_run.startswith("bash scripts/setup.sh --core && .venv/bin/mcpsniff analyze samples/")
    sample = setup_and_run.split("analyze ", 1)[1].split()[0]
    assert (ROOT / sample).is_file()
    assert test == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_readme_main_command_flags_the_seed_tool_plane():
    r = runner.invoke(app, ["analyze", str(ROOT / "samples/seed-two-planes.jsonl"), "--fail-on", "never", "-f", "json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["summary"]["failing_planes"] == ["openai-mcp/1.0.0"]


def test_json_doc_names_every_top_level_and_plane_key():
    text = (ROOT / "docs/json.md").read_text()
    r = runner.invoke(app, ["analyze", str(ROOT / "samples/seed-two-planes.jsonl"), "--fail-on", "never", "-f", "json"])
    doc = json.loads(r.stdout)
    keys = set(doc) | set(doc["capture"]) | set(doc["planes"][0]) | set(doc["findings"][0]) | set(doc["findings"][0]["evidence"][0])
    missing = sorted(k for k in keys if f'"{k}"' not in text)
    assert not missing, f"docs/json.md does not mention {missing}"


def test_docs_links_exist():
    links = re.findall(r"\]\(((?:docs|samples)/[^)#]+)\)", README)
    assert len(links) >= 5, links  # the README's documentation list: the regex must find it
    for link in links:
        assert (ROOT / link).exists(), link


def test_the_readme_stays_a_users_page():
    """Issue 20: at most 320 lines; measurements and their history live in docs/performance.md."""
    assert len(README.splitlines()) <= 320
