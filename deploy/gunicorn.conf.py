"""Gunicorn settings for the receiver in a container.

    gunicorn --config /etc/possync/gunicorn.conf.py possync.entry.web.wsgi:app

The receiver's own settings (worker class, threads, timeouts, keep-alive, the `child_exit` hook) live
in `possync.entry.web.gunicorn_conf` and are taken from there unchanged. This file adds only what a
container needs on top:

- `workers` from `WEB_CONCURRENCY` (default 2): inside a container `cpu_count()` is the *node's* CPU
  count, which would start dozens of processes in a pod limited to one CPU and 512 MiB.
- `PROMETHEUS_MULTIPROC_DIR` set and *emptied* before the workers start: prometheus-client's
  multiprocess mode sums every file in it, so files from a previous run would be counted again and
  a missing directory would break `/metrics`.
- no gunicorn control socket: it would be created under `$HOME`, which is read-only here, and a
  container is managed by restarting it, not through `gunicornc`.

`GUNICORN_CMD_ARGS` still overrides anything set here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from gunicorn.config import KNOWN_SETTINGS

from possync.entry.web import gunicorn_conf as _receiver

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# /tmp is a tmpfs (compose) or an emptyDir (Kubernetes): writable even with a read-only root filesystem.
DEFAULT_MULTIPROC_DIR = "/tmp/possync-prometheus"

# Every gunicorn setting (and server hook) the receiver defines, as it defines it.
globals().update({s.name: getattr(_receiver, s.name) for s in KNOWN_SETTINGS if hasattr(_receiver, s.name)})

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
control_socket_disable = True  # gunicorn >= 25.1; older versions ignore the unknown name


def prepare_multiproc_dir(env: MutableMapping[str, str]) -> Path:
    """Point prometheus-client at an empty directory (created if missing) and return it."""
    path = Path(env.setdefault(MULTIPROC_ENV, DEFAULT_MULTIPROC_DIR))
    if path.is_dir():
        for entry in path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


# At import, in the master: every forked worker then sees the variable before it imports prometheus-client.
prepare_multiproc_dir(os.environ)

_receiver_on_starting = getattr(_receiver, "on_starting", None)


def on_starting(server: Any) -> None:
    """Empty the metrics directory once more right before start, then run the receiver's own hook."""
    prepare_multiproc_dir(os.environ)
    if _receiver_on_starting is not None:
        _receiver_on_starting(server)
