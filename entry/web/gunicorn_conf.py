"""gunicorn settings for the receiver: `gunicorn -c python:possync.entry.web.gunicorn_conf possync.entry.web.wsgi:app`.

Threads (gthread, as `possync.entry.web.buffered_worker`: the main loop reads each request whole, with a
deadline, before a thread runs it, so slow clients hold no thread) because a delivery mostly waits on
PostgreSQL and the broker, and keep-alive because Shopify reuses connections. Two processes per core,
not one: a keep-alive connection stays with the process that accepted it, so with few processes one of
them often holds most of the busy connections while another idles, and its queue sets the p99 (README,
"Measurements of the code's history"). gunicorn's own flags and `GUNICORN_CMD_ARGS` override anything here.

For `/metrics` across processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty directory before start;
`child_exit` below then drops a dead worker's live gauges.
"""

from __future__ import annotations

import os
from typing import Any

from possync.worker.settings import default_processes

bind = "0.0.0.0:8000"
worker_class = "possync.entry.web.buffered_worker.BufferingThreadWorker"
workers = default_processes()
threads = 4
keepalive = 5  # seconds; Shopify connects within 1 s and expects an answer within 5 s
timeout = 30
graceful_timeout = 20
max_requests = 20000  # recycle workers now and then; jitter spreads the restarts
max_requests_jitter = 2000
accesslog = None  # a line per webhook is noise; metrics count them


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
