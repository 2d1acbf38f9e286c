"""The documents in `docs/` against the code: every rule and principle the code cites exists, every
command the CLI registers and every setting it reads is in the public contract."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from possync.entry.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PRODUCT_DIRS = ("entry", "worker", "tasks", "adapters", "models", "bench")
TEXT_SUFFIXES = {".py", ".lua", ".mako", ".md", ".txt", ".html", ".sql"}

# "rule 10", "rules 6-11", "rules 6 to 11", "rules 12, 13, 33", "rules 25 and 26", "principle 4".
NUMBERS = r"\d+(?:\s*(?:[-\u2013]|to|,|and|or)\s*\d+)*"  # \u2013: an en dash
CITATION = re.compile(rf"\b(?P<word>rules?|principles?)\s+(?P<numbers>{NUMBERS})", re.IGNORECASE)
RANGE = re.compile(r"(\d+)\s*(?:[-\u2013]|to)\s*(\d+)")


def cited_numbers(numbers: str) -> set[int]:
    """The numbers a citation names, ranges expanded: "14-18, 25" -> {14, ..., 18, 25}."""
    found: set[int] = set()
    for first, last in RANGE.findall(numbers):
        found.update(range(int(first), int(last) + 1))
    found.update(int(n) for n in re.findall(r"\d+", RANGE.sub("", numbers)))
    return found


def citations(text: str, word: str) -> Iterator[tuple[int, int]]:
    """(number, line) for each rule or principle `text` cites."""
    for match in CITATION.finditer(text):
        if match["word"].lower().rstrip("s") == word:
            line = text.count("\n", 0, match.start()) + 1
            for number in sorted(cited_numbers(match["numbers"])):
                yield number, line


def product_files() -> Iterator[Path]:
    for folder in PRODUCT_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def cited_in_code(word: str) -> dict[int, list[str]]:
    """Every number cited as `word` in product code, with where."""
    cited: dict[int, list[str]] = {}
    for path in product_files():
        for number, line in citations(path.read_text(encoding="utf-8"), word):
            cited.setdefault(number, []).append(f"{path.relative_to(ROOT)}:{line}")
    return cited


def spec_rules(text: str) -> set[int]:
    """The numbered rules of SPEC.md (a list item at the start of a line)."""
    return {int(n) for n in re.findall(r"^(\d+)\. ", text, re.MULTILINE)}


def architecture_principles(text: str) -> set[int]:
    section = text.split("\n## Principles\n", 1)[1].split("\n## ", 1)[0]
    return {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)}


def missing(cited: dict[int, list[str]], defined: set[int]) -> dict[int, list[str]]:
    return {number: where for number, where in sorted(cited.items()) if number not in defined}


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None, name
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def documented_lines(interface: str, path: tuple[str, ...]) -> list[str]:
    """The lines of INTERFACE.md that name `possync <path>` in code quotes."""
    pattern = re.compile(rf"`possync {re.escape(' '.join(path))}(?![\w-])")
    return [line for line in interface.splitlines() if pattern.search(line)]


def long_options(command: click.Command) -> list[str]:
    return [max(p.opts, key=len) for p in command.params
            if isinstance(p, click.Option) and max(p.opts, key=len) != "--help"]


def settings_variables() -> set[str]:
    """The `POSSYNC_*` names `worker/settings.py` reads: string constants that are exactly a name."""
    tree = ast.parse((ROOT / "worker" / "settings.py").read_text(encoding="utf-8"))
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"POSSYNC_[A-Z0-9_]+", node.value)}


@pytest.fixture(scope="module")
def interface() -> str:
    return (DOCS / "INTERFACE.md").read_text(encoding="utf-8")


def test_every_rule_cited_in_code_is_in_the_spec() -> None:
    cited = cited_in_code("rule")
    assert {10, 22, 34} <= cited.keys()  # the scan reads the code: these are cited in many places
    assert missing(cited, spec_rules((DOCS / "SPEC.md").read_text(encoding="utf-8"))) == {}


def test_every_principle_cited_in_code_is_in_the_architecture() -> None:
    cited = cited_in_code("principle")
    assert {1, 2, 4} <= cited.keys()
    principles = architecture_principles((DOCS / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert missing(cited, principles) == {}


def test_every_cli_command_and_its_options_are_in_the_interface(interface: str) -> None:
    commands = dict(leaf_commands(cli))
    assert ("tenant", "preview") in commands and ("failed", "list") in commands
    undocumented = {" ".join(path): [] for path in commands if not documented_lines(interface, path)}
    assert undocumented == {}
    options_missing = {" ".join(path): [o for o in long_options(command)
                                       if not any(o in line for line in documented_lines(interface, path))]
                       for path, command in commands.items()}
    assert {path: opts for path, opts in options_missing.items() if opts} == {}


def test_the_root_options_are_in_the_interface(interface: str) -> None:
    for option in long_options(cli):
        assert f"`possync {option}`" in interface


def test_every_setting_read_is_in_the_interface(interface: str) -> None:
    variables = settings_variables()
    assert {"POSSYNC_DATABASE_URL", "POSSYNC_DEBUG", "POSSYNC_FLOWER_BASIC_AUTH"} <= variables
    assert sorted(v for v in variables if f"`{v}`" not in interface) == []


@pytest.mark.parametrize(("text", "numbers"), [
    ("SPEC rule 10.", {10}),
    ("(SPEC rules 14-18, 25)", {14, 15, 16, 17, 18, 25}),
    ("SPEC rules 19 to 21, 25, 26", {19, 20, 21, 25, 26}),
    ("rules 7 and 8", {7, 8}),
    ("Rules 27\u201329", {27, 28, 29}),
    ("ARCHITECTURE principle 6): queues", {6}),
])
def test_citations_are_read_with_their_ranges_and_lists(text: str, numbers: set[int]) -> None:
    word = "principle" if "principle" in text else "rule"
    assert {n for n, _ in citations(text, word)} == numbers


def test_a_citation_the_documents_lack_is_reported() -> None:
    cited = {number: ["x.py:1"] for number, _ in citations("see rule 54 and principle 3", "rule")}
    assert missing(cited, spec_rules("1. a rule\n53. the last\n")) == {54: ["x.py:1"]}
    assert architecture_principles("# A\n\n## Principles\n1. **One.** x\n2. **Two.** y\n\n## Next\n3. **No.**\n") \
        == {1, 2}
    assert documented_lines("| `possync tenant import NAME` | ... |", ("tenant", "import"))
    assert not documented_lines("| `possync tenant imports` | ... |", ("tenant", "import"))
