"""No function-local import of possync's own modules, except the deliberate few listed here: an import
inside a function hides a dependency from import-linter and from the reader (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("entry", "tasks", "worker", "adapters", "models")

# (file, module imported) -> why it is imported where it is used; each has a one-line comment there too.
DELIBERATE = {
    ("entry/cli/demo.py", "possync.entry.demo"): "the demo needs its extra (fakeredis, cheroot), checked first",
    ("entry/cli/run.py", "possync.entry.web.wsgi"): "importing the gunicorn module builds the receiver",
    ("entry/web/buffered_worker.py", "possync.entry.web.shopify_webhooks"): "gunicorn's master need not load it",
}


def local_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a possync module inside a function body."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("possync"):
                found.append((node.lineno, node.module or ""))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, a.name) for a in node.names if a.name.startswith("possync")]
    return sorted(set(found))


def test_the_walk_finds_imports_at_any_depth_of_a_function() -> None:
    source = ("import possync.models\n"
              "def f():\n    if True:\n        from possync.tasks import jobs\n"
              "class C:\n    async def g(self):\n        import possync.worker.settings\n        import json\n")
    assert local_imports(source) == [(4, "possync.tasks"), (7, "possync.worker.settings")]


def test_no_function_local_possync_import_but_the_deliberate_ones() -> None:
    found = {}
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for line, module in local_imports(path.read_text()):
                found[(name, module)] = line
    assert sorted(set(found) - set(DELIBERATE)) == []
    assert sorted(set(DELIBERATE) - set(found)) == []  # a deliberate one that went: drop it from the list
