"""Every command the docs show works as written.

Commands are collected from README.md and docs/*.md: lines of fenced shell blocks and inline
code spans that start with ``mcpsniff``, ``.venv/bin/mcpsniff``, ``mitmdump`` ... Each one is
classified, and each class checked:

- runs: a command that reads shipped samples (``samples/...``) or reads nothing runs for real,
  from a scratch directory that has ``samples/`` in it (so ``-o report.md`` lands there), with
  the mcpsniff of this environment; it must exit 0 or 1 (1 = findings, as documented) without an
  ``error:``, and write the file it names;
- live: it needs a live MCP server or a capture made from one (``mcpsniff capture``,
  ``mitmdump``, files under ``captures/``): its options are checked against the command's own
  parser, and a ``mitmdump -s`` script must be there;
- synopsis (``FILE...``, ``[--opt]``, ``BEFORE AFTER``): the options it names must exist;
- setup: scripts of this repository (``bash scripts/setup.sh`` ...) must exist.

A file a command reads that is none of these (``seed.jsonl`` ...) fails the test.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from mcpsniff.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MCPSNIFF = Path(sys.executable).parent / "mcpsniff"
PROGRAMS = {"mcpsniff", ".venv/bin/mcpsniff", "mitmdump", ".venv/bin/mitmdump"}
READS_FILES = {"analyze", "report", "diff", "export"}
CLICK = typer.main.get_command(app)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def _is_command(text: str) -> bool:
    w = text.split()
    if not w:
        return False
    if w[0] in ("bash", ".venv/bin/python"):
        return len(w) > 1 and w[1].startswith("scripts/")
    if w[0] in ("pip", "pipx"):
        return len(w) > 1 and w[1] == "install"
    return w[0] in PROGRAMS or w[0].startswith("HTTP_PROXY=")


def _add(out: list[Example], name: str, line: int, text: str) -> None:
    for part in text.split(" && "):  # "setup && run": each its own example
        if _is_command(part.strip()):
            out.append(Example(name, line, part.strip()))


def examples() -> list[Example]:
    out: list[Example] = []
    for path in DOCS:
        name = str(path.relative_to(ROOT))
        lines = path.read_text().splitlines()
        fence: str | None = None
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"^(`{3,})([\w-]*)\s*$", line)
            if m and fence is None:
                fence = m.group(1) if m.group(2) in ("", "bash", "sh", "console", "shell") else "skip:" + m.group(1)
                i += 1
                continue
            if fence is not None and line.strip() == fence.removeprefix("skip:"):
                fence = None
                i += 1
                continue
            if fence is not None and not fence.startswith("skip:"):
                start, cmd = i + 1, line.strip().removeprefix("$ ")
                while cmd.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
                _add(out, name, start, re.sub(r"\s+#.*$", "", cmd))
            elif fence is None:
                for span in re.findall(r"`([^`]+)`", line):
                    _add(out, name, i + 1, span)
            i += 1
    return out


EXAMPLES = examples()


def words(cmd: str) -> list[str]:
    return shlex.split(cmd.split(" | ")[0])


def subcommand(cmd: str) -> tuple[str, list[str]] | None:
    w = words(cmd)
    if not w or not w[0].endswith("mcpsniff"):
        return None
    if len(w) == 1 or w[1].startswith("-"):
        return "", w[1:]
    return w[1], w[2:]


def parse(cmd: str):
    """The command's parameters as mcpsniff's own parser reads them (unknown options fail here)."""
    sub, args = subcommand(cmd)  # type: ignore[misc]
    command = CLICK.commands[sub]  # type: ignore[attr-defined]
    return command.make_context(sub, list(args), resilient_parsing=False)


def is_synopsis(cmd: str) -> bool:
    return bool(re.search(r"FILE\b|\[|BEFORE AFTER|\bUA\d|OUT\.har|\bA B\b|\bDIR\b", cmd.split(" | ")[0]))


def kind(ex: Example) -> str:
    cmd = ex.text
    if cmd.startswith(("bash scripts/", ".venv/bin/python scripts/", "pip install", "pipx install")) or "--install-completion" in cmd:
        return "setup"
    if cmd.startswith(("mitmdump", ".venv/bin/mitmdump")):
        return "live" if "-s" in words(cmd)[:-1] else "mention"  # "`mitmdump -s`" in prose names it
    if cmd.startswith("HTTP_PROXY="):
        return "live"
    sub = subcommand(cmd)
    if sub is None:
        return "setup"
    if is_synopsis(cmd):
        return "synopsis"
    if sub[1] in ([], ["..."]) and sub[0] not in ("rules", "addon-path"):
        return "mention"  # "`mcpsniff capture` runs ...": the command named in prose
    if sub[0] == "capture":
        return "live"
    if sub[0] in READS_FILES:
        try:
            files = parse(cmd).params.get("files") or []
        except Exception as e:  # noqa: BLE001 - the parser's MissingParameter
            if type(e).__name__ != "MissingParameter":
                raise
            files = []
        if not files:
            return "mention"  # the command named in prose ("`mcpsniff analyze --format json` has everything")
        if any(f.startswith("captures/") for f in files):
            return "live"
    return "runs"


def test_the_docs_have_examples_of_every_kind():
    kinds = {kind(e) for e in EXAMPLES}
    assert {"runs", "live", "synopsis", "setup"} <= kinds, kinds
    assert sum(kind(e) == "runs" for e in EXAMPLES) >= 10


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if kind(e) == "runs"], ids=str)
def test_example_runs_as_written(ex, tmp_path):
    if "| jq" in ex.text and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    sub, _ = subcommand(ex.text)  # type: ignore[misc]
    params = parse(ex.text).params
    for f in params.get("files") or []:
        assert f == "-" or (ROOT / f).is_file() and f.startswith("samples/"), f"{ex}: {f} is not a shipped sample"
    real = re.sub(r"^(?:\.venv/bin/)?mcpsniff(?= |$)", shlex.quote(str(MCPSNIFF)), ex.text)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(["bash", "-o", "pipefail", "-c", real], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 1), f"{ex}\n{done.stderr}"
    assert "error:" not in done.stderr and "Traceback" not in done.stderr, f"{ex}\n{done.stderr}"
    written = [v for k, v in params.items() if k in ("output", "har") and v not in (None, "-")]
    for out in written:
        assert (tmp_path / out).stat().st_size > 0, f"{ex}: wrote nothing to {out}"
    if not written:
        assert done.stdout.strip(), ex


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if kind(e) == "live"], ids=str)
def test_live_example_is_well_formed(ex):
    """Needs a live MCP server: not run, but what it names must exist and its options must parse."""
    cmd = ex.text
    if cmd.startswith(("mitmdump", ".venv/bin/mitmdump")):
        w = words(cmd)
        script = w[w.index("-s") + 1]
        if "addon-path" in script:
            out = subprocess.run([str(MCPSNIFF), "addon-path"], capture_output=True, text=True, check=True).stdout.strip()
            assert Path(out).is_file()
        else:
            assert (ROOT / script).is_file(), f"{ex}: no {script}"
        assert any(s.startswith("mcpsniff_output=") for s in w), ex
        if cmd.startswith(".venv/bin/"):
            assert (Path(sys.executable).parent / "mitmdump").exists()
        return
    if cmd.startswith("HTTP_PROXY="):
        return  # the user's own client
    ctx = parse(cmd)
    for f in ctx.params.get("files") or []:
        assert f.startswith("captures/") or f == "...", f"{ex}: {f}"


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if kind(e) == "synopsis"], ids=str)
def test_synopsis_names_real_options(ex):
    sub, args = subcommand(ex.text)  # type: ignore[misc]
    command = CLICK.commands[sub]  # type: ignore[attr-defined]
    known = {o for p in command.params for o in getattr(p, "opts", [])}
    for opt in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(args)):
        assert opt in known, f"{ex}: {opt} is not an option of mcpsniff {sub}"


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if kind(e) == "setup"], ids=str)
def test_setup_example_names_real_scripts(ex):
    for script in re.findall(r"scripts/[\w.]+", ex.text):
        assert (ROOT / script).is_file(), f"{ex}: no {script}"


def test_no_example_reads_a_file_that_is_not_shipped():
    bad = []
    for ex in EXAMPLES:
        if kind(ex) in ("runs", "live") and subcommand(ex.text) and subcommand(ex.text)[0] in READS_FILES:
            for f in parse(ex.text).params.get("files") or []:
                if not (f.startswith("captures/") or f in ("-", "...") or (f.startswith("samples/") and (ROOT / f).is_file())):
                    bad.append(f"{ex}: {f}")
    assert not bad, bad
