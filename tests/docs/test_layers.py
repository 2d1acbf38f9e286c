"""README's layering table says what the import-linter `layers` contract enforces, in the same order."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["type"] == "layers"]
    return [f"{name.split('.', 1)[1].replace('.', '/')}/" for name in layers["layers"]]


def readme_layers() -> list[str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("<!-- layers table"):]
    return [m.group(1) for m in re.finditer(r"^\| \d+ \| `([^`]+)` \|", table, re.M)]


def test_the_readme_table_lists_the_contract_layers_top_down() -> None:
    assert contract_layers()[0] == "entry/" and len(contract_layers()) == 5
    assert readme_layers() == contract_layers()


def test_every_product_folder_is_a_layer_and_a_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for folder in contract_layers():
        assert (ROOT / folder / "__init__.py").exists()
        assert f"possync.{folder.rstrip('/')}" in packages
    assert not any(p.startswith(("possync.bench", "possync.testing", "possync.tests")) for p in packages)


def test_tests_outside_tests_bench_import_the_shared_stacks_from_testing_not_bench() -> None:
    """Benchmarks may change their helpers at will: what tests and benches share lives in `testing/`."""
    found = []
    for path in (ROOT / "tests").rglob("*.py"):
        if path.is_relative_to(ROOT / "tests" / "bench"):
            continue
        if re.search(r"^\s*(from|import) bench\b", path.read_text(), re.M):
            found.append(str(path.relative_to(ROOT)))
    assert found == []
