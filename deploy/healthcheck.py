"""Container health probes that need no curl or redis-cli in the slim image.

    python /etc/possync/healthcheck.py http http://127.0.0.1:8000/healthz
    python /etc/possync/healthcheck.py broker            # uses POSSYNC_REDIS_URL

`http` is for the receiver and Flower (their own health endpoints). `broker` is for `celery beat`,
which has no endpoint and does not answer `celery inspect ping`: a beat that cannot reach the
broker publishes nothing, so "broker reachable from this container" is the useful signal. Celery
workers are probed with `celery -A possync.worker.celery_app inspect ping -d celery@$HOSTNAME` instead,
which proves the worker itself still consumes from the broker (celery #8030: a worker can stay up
but stop consuming after a Redis reconnect).

Exit status 0 means healthy, 1 unhealthy (one line on stderr naming the failure class, never the URL:
it may carry a password). Standard library plus kombu only, so it also works where possync's own
settings would refuse to load.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

DEFAULT_TIMEOUT_SECONDS = 5.0


def check_http(url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str | None:
    """None when `url` answers 2xx within `timeout`, else a short reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"unreachable ({type(reason).__name__})"
    return None if 200 <= status < 300 else f"HTTP {status}"


def check_broker(env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str | None:
    """None when the broker in POSSYNC_REDIS_URL accepts a connection, else a short reason.

    kombu rather than redis-py, so `sentinel://` URLs (with POSSYNC_REDIS_SENTINEL_MASTER) are checked the
    same way Celery connects.
    """
    url = env.get("POSSYNC_REDIS_URL")
    if not url:
        return "POSSYNC_REDIS_URL is not set"
    from kombu import Connection

    options: dict[str, object] = {"socket_timeout": timeout}
    if env.get("POSSYNC_REDIS_SENTINEL_MASTER"):  # kombu asks the sentinels in the URL for this master
        options["master_name"] = env["POSSYNC_REDIS_SENTINEL_MASTER"]
    try:
        with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            with conn.channel() as channel:
                channel.client.ping()
    except Exception as exc:  # any failure to talk to the broker is "unhealthy"
        return f"broker unreachable ({type(exc).__name__})"
    return None


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    if args[:1] == ["http"] and len(args) == 2:
        problem = check_http(args[1])
    elif args == ["broker"]:
        problem = check_broker(env)
    else:
        print("usage: healthcheck.py http URL | healthcheck.py broker", file=sys.stderr)
        return 2
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
