"""Every Prometheus metric of possync, in one place, named `possync_*`.

Defined once here so each process (gunicorn workers, Celery workers, beat) registers the same names
with the same labels; code elsewhere imports the object and increments it. Label values are kept to
small sets (topics possync knows, tenant names, POS kinds) so a forged header cannot grow the series.

Under gunicorn set `PROMETHEUS_MULTIPROC_DIR` (an empty directory) before start-up: prometheus-client
then keeps values in files shared by the worker processes and `/metrics` aggregates them. Gauges say
how to combine the processes' values (`multiprocess_mode`); they are set by one periodic reporter,
so the most recent value is the true one.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# --- intake (possync.entry.web) -----------------------------------------------------------------------
WEBHOOK_EVENTS = Counter(
    "possync_webhook_events",
    "Shopify webhook deliveries received, by topic and by what the receiver did with them",
    ["topic", "result"],
)
ENQUEUE_FAILURES = Counter(
    "possync_enqueue_failures",
    "Stored webhook events that could not be handed to the broker at once (the sweeper enqueues them later)",
)
WEBHOOK_REQUEST_SECONDS = Histogram(
    "possync_webhook_request_seconds",
    "Time the receiver took to answer a webhook delivery",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# --- the pipeline (incremented by tasks/ and worker/) -------------------------------------------
SYNCS = Counter(
    "possync_syncs",
    "Customer syncs finished, by tenant, POS kind and outcome (created, updated, unchanged, failed, ...)",
    ["tenant", "pos", "outcome"],
)
WEBHOOK_TO_POS_SECONDS = Histogram(
    "possync_webhook_to_pos_seconds",
    "Time from a webhook's arrival to its change being written to the POS",
    ["pos"],
    buckets=(0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
)
POS_REQUESTS = Counter(
    "possync_pos_requests",
    "HTTP requests made to a POS, by POS kind and HTTP status ('error' for transport failures)",
    ["pos", "status"],
)
RATE_LIMITED = Counter(
    "possync_rate_limited",
    "Responses where a vendor said 'too many requests' (HTTP 429, Shopify THROTTLED), by vendor and tenant",
    ["vendor", "tenant"],
)
LIMITER_WAITS = Counter(
    "possync_limiter_waits",
    "Times possync's own shared limiter deferred a call (a retry with a countdown), by vendor and tenant",
    ["vendor", "tenant"],
)
# The failed-list size, job counts and queue depths come from the database and Redis at scrape time:
# see worker/pipeline_metrics.py.


def topic_label(topic: str | None, known: frozenset[str]) -> str:
    """The topic as a label value: itself when possync knows it, else `other` (bounded cardinality)."""
    if topic and topic in known:
        return topic
    return "other" if topic else "none"
