"""constraints.txt pins what the suite was tested with, and every install path uses it."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.test_deploy_files import dockerfile_instructions

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    entries = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(entry) == 2 for entry in entries), "every line pins one version with =="
    return {canonicalize_name(name): version for name, version in entries}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"],
                                        *project["optional-dependencies"]["demo"]]]


def test_every_declared_dependency_is_pinned_inside_its_range() -> None:
    pinned = pins()
    for requirement in declared():
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in constraints.txt: run scripts/lock"
        assert requirement.specifier.contains(version), f"{requirement.name}=={version} is outside {requirement}"


def test_every_declared_range_is_bounded_above() -> None:
    """A new major (or a 0.x minor) of any dependency cannot reach an install without a change here."""
    for requirement in declared():
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier), str(requirement)


def test_everything_possync_dev_pulls_in_is_pinned() -> None:
    """The whole tree as installed now, so a dependency added without re-running scripts/lock is caught."""
    pinned, seen, todo = pins(), set(), [("possync", "dev")]
    while todo:
        name, extra = todo.pop()
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
                continue
            key = canonicalize_name(requirement.name)
            assert key in pinned, f"{requirement.name} (needed through {name}) is not in constraints.txt"
            for sub in [*requirement.extras, ""]:
                if (key, sub) not in seen:
                    seen.add((key, sub))
                    todo.append((requirement.name, sub))
    assert len(seen) > 30


def test_the_test_script_and_the_image_install_with_the_constraints() -> None:
    assert "-c constraints.txt -e '.[dev]'" in (ROOT / "scripts" / "test").read_text()
    instructions = dockerfile_instructions()
    assert any(op == "COPY" and "constraints.txt" in args.split()[:-1] for op, args in instructions)
    assert any(op == "RUN" and "pip wheel" in args and "-c constraints.txt" in args for op, args in instructions)
    assert "constraints.txt" not in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text()
