"""Every command the CLI modules define is reachable from `possync`: a command left out of `COMMANDS`
(the lazily loaded list in `possync.entry.cli`) would never run."""

from __future__ import annotations

import importlib
import pkgutil

import click

import possync.entry.cli as package
from possync.entry.cli import COMMANDS, cli


def reachable(command: click.Command) -> set[int]:
    found = {id(command)}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= reachable(sub)
    return found


def test_every_command_defined_in_the_cli_modules_is_registered() -> None:
    registered: set[int] = set()
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name
        registered |= reachable(command)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "__main__":  # runs the command when imported
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        defined = [name for name, value in vars(module).items() if isinstance(value, click.Command)]
        assert [n for n in defined if id(getattr(module, n)) not in registered and getattr(module, n) is not cli] \
            == [], module.__name__


def test_an_unknown_command_is_refused() -> None:
    assert cli.get_command(click.Context(cli), "nonesuch") is None
