"""`possync --version`: the installed distribution's version, whatever the configuration."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys


def test_version_prints_the_installed_version_and_needs_no_settings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSSYNC_")}
    env["POSSYNC_LOG_FORMAT"] = "not-a-format"  # would stop any command that reads its settings
    done = subprocess.run([sys.executable, "-m", "possync.entry.cli", "--version"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"possync {importlib.metadata.version('possync')}\n"
    assert done.stderr == ""
