"""The import arrows run one way (README, Layout): telemetry imports no app (each may import it), sqltools
imports none of the other apps, oauth_ext neither mcp_bridge nor mcpsite, mcpsite imports mcp_bridge only in
asgi.py, and nothing imports tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "telemetry": {"sqltools", "oauth_ext", "mcp_bridge", "mcpsite", "tests", "bench"},
    "sqltools": {"oauth_ext", "mcp_bridge", "mcpsite", "tests", "bench"},
    "oauth_ext": {"mcp_bridge", "mcpsite", "tests", "bench"},
    "mcp_bridge": {"mcpsite", "tests", "bench"},
    "mcpsite": {"mcp_bridge", "tests", "bench"},
    "bench": {"tests"},
}
ALLOWED = {("mcpsite/asgi.py", "mcp_bridge")}  # the one place the Django project hands itself to the ASGI app


def _imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere in it (functions included)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package):
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for imported in sorted(_imported_packages(path) & FORBIDDEN[package]):
            if (relative, imported) not in ALLOWED:
                wrong.append(f"{relative} imports {imported}")
    assert not wrong, "imports against the layout's arrows:\n" + "\n".join(wrong)
