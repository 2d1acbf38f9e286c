"""Configuration, read once from the environment (INTERFACE.md, "Configuration").

Every variable is read here and nowhere else; the rest of the code asks `get_settings()`. A missing
or malformed value raises `SettingsError` with a one-line message naming the variable.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from cryptography.fernet import Fernet
from redis.connection import parse_url as parse_redis_url
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

DEFAULT_DATABASE_URL = "sqlite:///possync.db"
KEYGEN_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
SENTINEL_PORT = 26379  # Sentinel's own default port, as kombu assumes
# Words the shipped examples (.env.example, deploy/k8s/templates/secret.yaml) use in place of a secret:
# a value still holding one was copied without being filled in, so it is refused rather than used.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "replace_me", "replace-me", "replace-with")


def default_processes() -> int:
    """Worker and receiver processes when not told: two per core.

    A sync or a delivery spends most of its time waiting on PostgreSQL, Redis and the vendor; with one
    process per core the 2-core benchmark machine stayed a fifth idle (bench/pipeline.py, bench/intake.py).
    """
    return 2 * (os.cpu_count() or 1)


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class SentinelTarget:
    """A `sentinel://` POSSYNC_REDIS_URL taken apart: the sentinels to ask, for which master, and how to log in
    to it (the URL's user and password are the Redis master's, as in kombu; the sentinels get none)."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def url(self) -> str:
        """The URL for kombu, with the credentials and db on every address: kombu reads them from the address
        it connects through, the first one or, after a connection failure, the next."""
        auth = quote(self.username or "", safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        auth += "@" if auth else ""
        return ";".join(f"sentinel://{auth}{f'[{host}]' if ':' in host else host}:{port}/{self.db}"
                        for host, port in self.sentinels)


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str | None
    log_format: str
    sweep_after_seconds: int
    job_max_attempts: int
    retry_backoff_max_seconds: int
    redis_key_prefix: str
    redis_sentinel_master: str | None
    sentinel: SentinelTarget | None = None  # set when redis_url is sentinel://
    flower_basic_auth: str | None = None
    console_basic_auth: str | None = None  # the operator console is served only when set
    queue_depth: int = 4  # most messages a queue's fair dispatcher keeps in the broker (possync.worker.fairqueue)
    retention_days: int = 30
    metrics_basic_auth: str | None = None

    @property
    def broker_url(self) -> str:
        """Celery's broker: the Redis URL (sentinel:// in kombu's form), or in-memory without one."""
        if self.sentinel:
            return self.sentinel.url()
        return self.redis_url or "memory://"

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise SettingsError(
                f"POSSYNC_SECRET_KEY is not set: it encrypts tenant credentials. Generate one with {KEYGEN_HINT}"
            )
        return self.secret_key

    def require_redis(self, command: str) -> str:
        if not self.redis_url:
            raise SettingsError(
                f"POSSYNC_REDIS_URL is not set: `possync {command}` runs across processes and needs Redis "
                "(e.g. POSSYNC_REDIS_URL=redis://127.0.0.1:6379/0)"
            )
        return self.redis_url


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def masked(url: str) -> str:
    """`url` with any password replaced by `***`, for error messages."""
    return re.sub(r"(//[^/@;]*?:)[^/@;]*@", r"\1***@", url)


def parse_sentinel_url(url: str, master: str | None) -> SentinelTarget:
    """`sentinel://[user:password@]host[:port][/db][;sentinel://host2[:port]...]`, the form kombu reads;
    a db or password given on one address applies to all of them."""
    sentinels: list[tuple[str, int]] = []
    dbs: set[int] = set()
    logins: set[tuple[str | None, str | None]] = set()
    for address in (part.strip() for part in url.split(";")):
        if not address:
            continue
        where = f"POSSYNC_REDIS_URL address {masked(address)!r}"
        parts = urlsplit(address)
        if parts.scheme != "sentinel":
            raise SettingsError(f"{where}: every ';'-separated address must be sentinel://host:port")
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError:
            raise SettingsError(f"{where}: the port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise SettingsError(f"{where} names no host (sentinel://host:{SENTINEL_PORT})")
        if parts.query or parts.fragment:
            raise SettingsError(f"{where}: options after '?' or '#' are not supported")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise SettingsError(f"{where}: the database after '/' must be a number, got {db!r}")
        if db:
            dbs.add(int(db))
        login = (unquote(parts.username or "") or None, unquote(parts.password or "") or None)
        if login != (None, None):
            logins.add(login)
        sentinels.append((parts.hostname, port))
    if len(dbs) > 1:
        raise SettingsError(f"POSSYNC_REDIS_URL names different databases {sorted(dbs)}: give one (on any address)")
    if len(logins) > 1:
        raise SettingsError("POSSYNC_REDIS_URL gives different users or passwords: give the master's once")
    if not master:
        raise SettingsError("POSSYNC_REDIS_SENTINEL_MASTER is not set: a sentinel:// POSSYNC_REDIS_URL needs the "
                            "name of the master the sentinels watch (their `sentinel monitor NAME ...`)")
    username, password = logins.pop() if logins else (None, None)
    return SentinelTarget(tuple(sentinels), master, dbs.pop() if dbs else 0, username, password)


def _database_url(raw: str) -> str:
    """The URL with its database and driver checked, so a wrong one is a line at start-up, not a traceback later.

    `postgres://` (Heroku's and many hosts' form) is read as `postgresql://`, which SQLAlchemy maps to psycopg 3.
    """
    url = "postgresql://" + raw.removeprefix("postgres://") if raw.startswith("postgres://") else raw
    example = "postgresql://user:password@host:5432/possync or sqlite:///possync.db"
    try:
        dialect = make_url(url).get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        scheme = url.split("://", 1)[0]
        raise SettingsError(f"POSSYNC_DATABASE_URL names an unknown database {scheme!r}; use {example}") from None
    except ArgumentError:
        shown = raw.rsplit("@", 1)[-1]  # never the password
        raise SettingsError(f"POSSYNC_DATABASE_URL must be a SQLAlchemy URL such as {example}, got {shown!r}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise SettingsError(
            f"POSSYNC_DATABASE_URL needs the driver {dialect.driver!r}, which is not installed (no module {exc.name}); "
            "possync installs psycopg 3, which postgresql://... uses"
        ) from None
    return url


def _refuse_placeholder(name: str, secret: str | None) -> None:
    if secret and any(marker in secret.lower() for marker in PLACEHOLDER_MARKERS):
        raise SettingsError(f"{name} still holds the example's placeholder secret; replace it with a real one")


def _refuse_placeholder_in_url(name: str, url: str) -> None:
    """The placeholder check on the password inside a URL; the URL itself is never echoed (it holds it)."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        raise SettingsError(f"{name} is not a valid URL") from None
    _refuse_placeholder(name, password)


def _basic_auth(env: Mapping[str, str], name: str) -> str | None:
    """One `user:password`: Flower splits its basic-auth option on commas, so `admin:pw,x` would also
    admit a second login `x` (the console holds to the same form); an empty user or password is as good as none."""
    auth = env.get(name) or None
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if "," in auth:
        raise SettingsError(f"{name} must be one user:password with no comma (Flower reads a comma as a second login)")
    if not sep or not user.strip() or not password:
        raise SettingsError(f"{name} must be user:password with a non-empty user and password")
    _refuse_placeholder(name, password)
    return auth


def env_file_warning(directory: Path | None = None) -> str | None:
    """A warning when `.env` in `directory` (default: the working directory) can be read by others.

    possync does not read `.env` (compose does), but operators run `possync` where it sits; a secrets
    file readable by the group or everyone is worth saying so, not worth refusing a command for."""
    path = (directory or Path.cwd()) / ".env"
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not stat.S_ISREG(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    mode_text = f"{stat.S_IMODE(mode):04o}"
    return f"warning: {path} holds secrets and is readable by others (mode {mode_text}); run chmod 600 {path}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `env` (default: the process environment), validating every value."""
    env = os.environ if env is None else env
    database_url = _database_url(env.get("POSSYNC_DATABASE_URL") or DEFAULT_DATABASE_URL)
    _refuse_placeholder_in_url("POSSYNC_DATABASE_URL", database_url)
    redis_url = env.get("POSSYNC_REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://", "sentinel://")):
        raise SettingsError(f"POSSYNC_REDIS_URL must be a redis, rediss, unix or sentinel URL, "
                            f"got {masked(redis_url)!r}")
    if redis_url and not redis_url.startswith("sentinel://"):
        try:
            parsed = parse_redis_url(redis_url)
        except ValueError as exc:
            raise SettingsError(f"POSSYNC_REDIS_URL is malformed: {exc}") from None
        _refuse_placeholder("POSSYNC_REDIS_URL", parsed.get("password"))
    sentinel_master = env.get("POSSYNC_REDIS_SENTINEL_MASTER") or None
    sentinel = parse_sentinel_url(redis_url, sentinel_master) if redis_url and redis_url.startswith(
        "sentinel://") else None
    if sentinel is not None:
        _refuse_placeholder("POSSYNC_REDIS_URL", sentinel.password)
    secret_key = env.get("POSSYNC_SECRET_KEY") or None
    _refuse_placeholder("POSSYNC_SECRET_KEY", secret_key)
    if secret_key:
        try:
            Fernet(secret_key.encode())
        except (ValueError, TypeError):
            raise SettingsError(
                f"POSSYNC_SECRET_KEY is not a valid key (32 url-safe base64 bytes); generate one with {KEYGEN_HINT}"
            ) from None
    default_format = "console" if sys.stderr.isatty() else "json"
    log_format = env.get("POSSYNC_LOG_FORMAT") or default_format
    if log_format not in ("json", "console"):
        raise SettingsError(f"POSSYNC_LOG_FORMAT must be 'json' or 'console', got {log_format!r}")
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        log_format=log_format,
        sweep_after_seconds=_int(env, "POSSYNC_SWEEP_AFTER_SECONDS", 300),
        job_max_attempts=_int(env, "POSSYNC_JOB_MAX_ATTEMPTS", 8),
        retry_backoff_max_seconds=_int(env, "POSSYNC_RETRY_BACKOFF_MAX_SECONDS", 600),
        redis_key_prefix=env.get("POSSYNC_REDIS_KEY_PREFIX", ""),
        redis_sentinel_master=sentinel_master,
        sentinel=sentinel,
        flower_basic_auth=_basic_auth(env, "POSSYNC_FLOWER_BASIC_AUTH"),
        console_basic_auth=_basic_auth(env, "POSSYNC_CONSOLE_BASIC_AUTH"),
        queue_depth=_int(env, "POSSYNC_QUEUE_DEPTH", 4),
        retention_days=_int(env, "POSSYNC_RETENTION_DAYS", 30),
        metrics_basic_auth=_basic_auth(env, "POSSYNC_METRICS_BASIC_AUTH"),
    )


def debug_requested(env: Mapping[str, str] | None = None) -> bool:
    """`POSSYNC_DEBUG=1`: a failing command shows its traceback, not only its one-line error.

    Read apart from `load_settings` so a command that failed while loading its settings still knows.
    """
    env = os.environ if env is None else env
    return env.get("POSSYNC_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read on first use and then kept."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def set_settings(settings: Settings) -> None:
    """Replace the process's settings (the demo and tests); see `possync.worker.runtime.activate`."""
    global _current
    _current = settings
