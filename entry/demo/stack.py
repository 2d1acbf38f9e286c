"""The demo's embedded stack: settings, database, receiver and worker, all inside this one process.

Nothing runs outside: the database is a SQLite file in the work folder, the broker is kombu's
in-memory transport (valid only between threads of one process, hence the worker thread here), and
Redis is the in-process fakeredis that `possync.worker.runtime` makes when no Redis URL is set. `start()`
activates the stack's settings first, so the Celery app (configured on first use), the limiter and the
locks all point at the embedded stack.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from celery.contrib.testing.worker import start_worker
from celery.worker import state
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

import possync.tasks.pipeline  # registers the tasks the in-process worker runs (as poll below)
import possync.tasks.poll  # noqa: F401
from possync.entry.web.app import create_app
from possync.models.migrate import upgrade
from possync.tasks.intake import enqueue_event
from possync.worker.celery_app import app as celery_app
from possync.worker.logging import configure_logging
from possync.worker.routing import INTAKE_QUEUE, queues_for
from possync.worker.runtime import activate
from possync.worker.settings import Settings

DB_FILENAME = "possync-demo.db"
WORKER_THREADS = 4
# kombu's virtual transports sleep this long when a queue is empty (default 1 s): with five steps per
# chain that default alone would cost seconds per job.
MEMORY_POLLING_INTERVAL = 0.02
# Retries of transient failures back off 2, 4, 8 ... seconds in production; the demo caps that.
DEMO_BACKOFF_CAP_SECONDS = 2


def demo_settings(workdir: Path) -> Settings:
    """Explicit settings (the environment is ignored): SQLite in `workdir`, no Redis, a fresh key."""
    return Settings(
        database_url=f"sqlite:///{workdir / DB_FILENAME}",
        redis_url=None,
        secret_key=Fernet.generate_key().decode(),  # per run; never a key in the repository
        log_format="console" if sys.stderr.isatty() else "json",
        sweep_after_seconds=300,
        job_max_attempts=8,
        retry_backoff_max_seconds=DEMO_BACKOFF_CAP_SECONDS,
        redis_key_prefix="",
        redis_sentinel_master=None,
    )


def quiet_library_logs() -> None:
    """Only what the demo's reader needs between the progress bar's lines."""
    # `memory://` has no host by design; kombu warns about that on every connection.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    # werkzeug logs every request at INFO on a logger of its own: one line per webhook otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


class ServedApp:
    """A WSGI app on 127.0.0.1, a free port, served from a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="possync-demo-receiver", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class EmbeddedStack:
    """Settings activated, database migrated, receiver served, an in-process Celery worker consuming."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.settings = demo_settings(workdir)
        self.receiver: ServedApp | None = None
        self._worker_started = False
        self._exit = contextlib.ExitStack()

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def secret_key(self) -> str:
        return self.settings.require_secret_key()

    def start(self) -> None:
        configure_logging(self.settings.log_format, logging.WARNING)
        activate(self.settings)  # before the Celery app, limiter or locks are first used
        upgrade(self.database_url)
        configure_logging(self.settings.log_format, logging.WARNING)  # Alembic's env may touch logging
        quiet_library_logs()
        self._start_receiver()
        self._start_worker()

    def _start_receiver(self) -> None:
        # secrets_ttl=0: a tenant applied a moment ago is seen at once.
        app = create_app(self.database_url, self.secret_key, enqueue_event, secrets_ttl=0.0)
        self.receiver = ServedApp(app)
        self._exit.callback(self.receiver.stop)

    def _start_worker(self) -> None:
        options = dict(celery_app.conf.broker_transport_options or {})
        celery_app.conf.broker_transport_options = {**options, "polling_interval": MEMORY_POLLING_INTERVAL}
        celery_app.conf.worker_send_task_events = False  # nobody listens to events in the demo
        celery_app.conf.task_send_sent_event = False
        self._exit.enter_context(start_worker(
            celery_app, pool="threads", concurrency=WORKER_THREADS, perform_ping_check=False, queues=queues_for(),
            loglevel="WARNING", shutdown_timeout=15.0,
        ))
        self._worker_started = True

    def stop(self) -> None:
        if self._worker_started:
            self._wake_worker_for_shutdown()
        self._exit.close()

    def _wake_worker_for_shutdown(self) -> None:
        """Ask the worker to stop, and wake its loop at once with no-op messages.

        On the in-memory transport each cycle of the worker's loop blocks up to 2 s in `drain_events`,
        and the cycle after the shutdown check runs once more before the worker stops (celery's
        `synloop`: `try: maybe_shutdown() finally: _loop_cycle()`): two messages end both waits.
        Celery's built-in `celery.accumulate` (returns its arguments) is harmless to run.
        """
        state.should_terminate = 0
        with contextlib.suppress(Exception):  # only a shortcut: without it the worker stops ~4 s later
            for _ in range(2):
                celery_app.send_task("celery.accumulate", queue=INTAKE_QUEUE)
