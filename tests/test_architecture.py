"""The package's import rules (docs/architecture.md), read from the source with ast.

- dependencies point down the pipeline only: a stage imports its own modules and
  the stages below it (see LAYERS), never one above;
- render imports no data stage: it gets documents, not the code that made them;
- nothing imports cli;
- only capture/ and the flow-based loaders import mitmproxy;
- there is no import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mcpsniff"

# the pipeline, bottom first; a stage may import the stages listed before it
LAYERS = ["base", "record", "capture", "load", "model", "checks", "documents", "render", "cli"]
STAGE_OF_TOP_MODULE = {
    "__init__": "base", "mcp": "base", "errors": "base", "schema": "record", "asgi": "capture", "__main__": "entry",
}
# render gets documents only: of the stages below it, it may import the base facts alone
RENDER_MAY_IMPORT = {"base", "render"}
MITMPROXY_OK = {"capture", "load.har", "load.flows"}


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def stage(mod: str) -> str:
    head = mod.split(".")[0]
    return STAGE_OF_TOP_MODULE.get(head, head)


def imports(mod: str) -> list[tuple[str, int]]:
    """(imported module inside mcpsniff, or 'mitmproxy...'/other top-level name, line) of one module."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    here = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if mod == "__init__":
        here = []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                name = a.name
                found.append((name[len("mcpsniff."):] if name.startswith("mcpsniff.") else ("@" + name), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                name = node.module or ""
                if name == "mcpsniff" or name.startswith("mcpsniff."):
                    base = name[len("mcpsniff."):] if name != "mcpsniff" else ""
                else:
                    found.append(("@" + name, node.lineno))
                    continue
            else:
                up = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                cand = f"{base}.{a.name}" if base else a.name
                found.append((cand if cand in MODULES else (base or "__init__"), node.lineno))
    return found


def internal_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for mod in MODULES:
        edges[mod] = {target for target, _ in imports(mod) if not target.startswith("@") and target != mod}
    return edges


def test_the_walker_sees_imports():
    # guards the guard: the walker must find real edges, or every rule below passes vacuously
    edges = internal_edges()
    assert "checks.rule" in edges["checks.rules.session_id_dropped"]
    assert "model" in edges["checks.engine"]
    assert "capture.convert" in edges["load._flows"]
    assert any(t.startswith("@mitmproxy") for t, _ in imports("capture.addon"))
    assert len(MODULES) > 40


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_no_upward_import(mod):
    src = stage(mod)
    if src == "entry":
        return
    for target, line in imports(mod):
        if target.startswith("@"):
            continue
        dst = stage(target)
        assert dst != "cli" or src == "cli", f"{mod}:{line} imports cli"
        if src == "render":
            assert dst in RENDER_MAY_IMPORT, f"{mod}:{line}: render imports the data stage {target}"
            continue
        assert LAYERS.index(dst) <= LAYERS.index(src), f"{mod}:{line} imports {target}, a later stage ({dst} > {src})"


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_mitmproxy_only_in_capture_and_flow_loaders(mod):
    uses = [line for target, line in imports(mod) if target == "@mitmproxy" or target.startswith("@mitmproxy.")]
    allowed = mod in MITMPROXY_OK or stage(mod) == "capture"
    assert allowed or not uses, f"{mod} imports mitmproxy (lines {uses})"


def test_no_import_cycle():
    edges = internal_edges()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if n not in edges:
                continue
            # a package importing its own submodules (re-exports) is not a cycle of code
            if n.startswith(m + "."):
                continue
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if state.get(n) is None:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if state.get(m) is None:
            visit(m)
