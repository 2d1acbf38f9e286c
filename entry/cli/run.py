"""Long-running processes: `possync serve`, `worker`, `beat` (`flower` is in `possync.entry.cli.flower`)."""

from __future__ import annotations

import os
import tempfile

import click

from possync.entry.cli.common import settings
from possync.worker.celery_app import app
from possync.worker.logging import configure_logging
from possync.worker.routing import queues_for
from possync.worker.settings import default_processes


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """The HTTP receiver (development server; production runs `gunicorn possync.entry.web.wsgi:app`)."""
    conf = settings()
    conf.require_secret_key()
    # Deliberately here: importing the gunicorn module builds the receiver from the environment.
    from possync.entry.web.wsgi import app as receiver

    receiver.run(host=host, port=port, threaded=True)


@click.command()
@click.option("--pos", "pos_kinds", multiple=True, help="POS kind whose queue to consume (repeatable).")
@click.option("--tenant", "tenants", multiple=True, help="Dedicated tenant queue to consume (repeatable).")
@click.option("--queue", "extra_queues", multiple=True,
              help="Any other queue by name, e.g. intake or poll (repeatable).")
@click.option("--concurrency", type=int, default=None,
              help="Worker processes (default: two per CPU, since a sync mostly waits on PostgreSQL, Redis and "
                   "the vendor).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--metrics-port", type=int, default=None,
              help="Serve this worker's Prometheus metrics (syncs, latency, 429s, limiter waits) on this port.")
def worker(pos_kinds: tuple[str, ...], tenants: tuple[str, ...], extra_queues: tuple[str, ...],
           concurrency: int | None, loglevel: str, metrics_port: int | None) -> None:
    """A Celery worker on the queues of those POS kinds / tenants (default: all shared queues)."""
    conf = settings()
    conf.require_redis("worker")
    conf.require_secret_key()
    try:
        queues = queues_for(pos_kinds, tenants) if (pos_kinds or tenants or not extra_queues) else []
        queues += [q for q in extra_queues if q not in queues]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pos") from None
    if metrics_port:
        serve_worker_metrics(metrics_port)

    configure_logging(conf.log_format)
    processes = concurrency or default_processes()
    app.worker_main(["worker", "-Q", ",".join(queues), "--loglevel", loglevel, "-E", "--concurrency", str(processes)])


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """The scheduler: POS change polls and the sweeper of stuck work. Run exactly one."""
    conf = settings()
    conf.require_redis("beat")
    app.start(["beat", "--loglevel", loglevel])


def serve_worker_metrics(port: int) -> None:
    """Prefork children write their metrics to a shared directory; this process serves the sum."""
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="possync-metrics-"))
    # After the variable: prometheus-client picks its multi-process values when first imported.
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
