"""Settings come from the environment once, with documented defaults and one-line errors naming the variable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from possync.worker.settings import DEFAULT_DATABASE_URL, SettingsError, env_file_warning, load_settings


def test_defaults_are_the_embedded_mode() -> None:
    s = load_settings({})
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite:///possync.db"
    assert s.redis_url is None and s.secret_key is None
    assert s.log_format in ("json", "console")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POSSYNC_DATABASE_URL": "not a url"}, "POSSYNC_DATABASE_URL"),
        ({"POSSYNC_REDIS_URL": "http://x"}, "POSSYNC_REDIS_URL"),
        ({"POSSYNC_SECRET_KEY": "short"}, "POSSYNC_SECRET_KEY"),
        ({"POSSYNC_LOG_FORMAT": "xml"}, "POSSYNC_LOG_FORMAT"),
        ({"POSSYNC_JOB_MAX_ATTEMPTS": "many"}, "POSSYNC_JOB_MAX_ATTEMPTS"),
    ],
    ids=["database-url", "redis-url", "secret-key", "log-format", "max-attempts"],
)
def test_malformed_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_missing_secret_key_explains_how_to_make_one() -> None:
    with pytest.raises(SettingsError, match=r"POSSYNC_SECRET_KEY.*Fernet\.generate_key"):
        load_settings({}).require_secret_key()


def test_multi_process_commands_say_they_need_redis() -> None:
    with pytest.raises(SettingsError, match=r"possync worker.*needs Redis"):
        load_settings({}).require_redis("worker")


def test_valid_values_are_kept() -> None:
    key = Fernet.generate_key().decode()
    s = load_settings({"POSSYNC_DATABASE_URL": "postgresql://u@h/db", "POSSYNC_REDIS_URL": "redis://h:6379/1",
                       "POSSYNC_SECRET_KEY": key, "POSSYNC_LOG_FORMAT": "console"})
    assert (s.database_url, s.redis_url, s.secret_key, s.log_format) == (
        "postgresql://u@h/db", "redis://h:6379/1", key, "console")


SENTINEL = {"POSSYNC_REDIS_SENTINEL_MASTER": "mymaster"}


@pytest.mark.parametrize(
    ("url", "sentinels", "db", "password"),
    [
        ("sentinel://10.0.0.5", [("10.0.0.5", 26379)], 0, None),
        ("sentinel://s1:26379;sentinel://s2:26380/2", [("s1", 26379), ("s2", 26380)], 2, None),
        ("sentinel://:pa%40ss@sentinel-0:26379;sentinel://:pa%40ss@sentinel-1:26379",
         [("sentinel-0", 26379), ("sentinel-1", 26379)], 0, "pa@ss"),
        ("sentinel://:pw@s1/1; sentinel://s2 ;", [("s1", 26379), ("s2", 26379)], 1, "pw"),
        ("sentinel://[::1]:26379/0", [("::1", 26379)], 0, None),
    ],
    ids=["one-default-port", "db-on-the-last", "readme-password", "blanks-and-trailing-semicolon", "ipv6"],
)
def test_sentinel_urls_kombu_documents_are_taken_apart(url: str, sentinels: list[tuple[str, int]], db: int,
                                                       password: str | None) -> None:
    target = load_settings({"POSSYNC_REDIS_URL": url, **SENTINEL}).sentinel
    assert target is not None
    assert (list(target.sentinels), target.master, target.db, target.password) == (sentinels, "mymaster", db, password)


def test_kombu_gets_every_sentinel_with_the_same_db_and_password() -> None:
    s = load_settings({"POSSYNC_REDIS_URL": "sentinel://:p%40w@s1:26379;sentinel://s2/3", **SENTINEL})
    assert s.broker_url == "sentinel://:p%40w@s1:26379/3;sentinel://:p%40w@s2:26379/3"
    assert load_settings({"POSSYNC_REDIS_URL": "redis://h:6379/1"}).broker_url == "redis://h:6379/1"
    assert load_settings({}).broker_url == "memory://"


@pytest.mark.parametrize(
    ("url", "master", "message"),
    [
        ("sentinel://s1:26379", "", r"^POSSYNC_REDIS_SENTINEL_MASTER is not set: a sentinel:// POSSYNC_REDIS_URL"),
        ("sentinel://s1:port", "m", r"^POSSYNC_REDIS_URL address 'sentinel://s1:port': the port must be a number"),
        ("sentinel://s1;redis://r:6379", "m", r"'redis://r:6379': every ';'-separated address must be sentinel://"),
        ("sentinel://:secret@:26379", "m", r"'sentinel://:\*\*\*@:26379' names no host"),
        ("sentinel://s1/zero", "m", r"the database after '/' must be a number, got 'zero'"),
        ("sentinel://s1/1;sentinel://s2/2", "m", r"names different databases \[1, 2\]"),
        ("sentinel://:a@s1;sentinel://:b@s2", "m", r"different users or passwords"),
        ("sentinel://s1?ssl_cert_reqs=required", "m", r"options after '\?' or '#' are not supported"),
    ],
    ids=["no-master", "bad-port", "mixed-schemes", "no-host", "bad-db", "two-dbs", "two-passwords", "query"],
)
def test_bad_sentinel_settings_get_one_line_naming_the_variable(url: str, master: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings({"POSSYNC_REDIS_URL": url, "POSSYNC_REDIS_SENTINEL_MASTER": master})
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


def test_a_rejected_redis_url_does_not_print_its_password() -> None:
    with pytest.raises(SettingsError, match=r"'http://user:\*\*\*@h'") as caught:
        load_settings({"POSSYNC_REDIS_URL": "http://user:hunter2@h"})
    assert "hunter2" not in str(caught.value)


def test_a_heroku_style_postgres_url_is_read_as_postgresql() -> None:
    assert load_settings({"POSSYNC_DATABASE_URL": "postgres://u:p@h:5432/db"}).database_url == "postgresql://u:p@h:5432/db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg2://u@h/db", r"driver 'psycopg2', which is not installed .*psycopg 3"),
        ("mongodb://u@h/db", r"unknown database 'mongodb'; use postgresql://"),
        ("postgresql//u:secret@h/db", r"must be a SQLAlchemy URL .*got 'h/db'$"),
    ],
    ids=["driver-not-installed", "unknown-database", "no-scheme-password-not-shown"],
)
def test_a_database_url_that_cannot_work_is_one_line_naming_the_variable(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings({"POSSYNC_DATABASE_URL": url})
    assert str(caught.value).startswith("POSSYNC_DATABASE_URL") and "\n" not in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POSSYNC_DATABASE_URL": "postgresql://possync:change-me-to-a-long-random-hex-string@postgres/possync"},
         "POSSYNC_DATABASE_URL"),
        ({"POSSYNC_DATABASE_URL": "postgresql://possync:REPLACE_ME@postgres.example.internal:5432/possync"},
         "POSSYNC_DATABASE_URL"),
        ({"POSSYNC_REDIS_URL": "redis://:REPLACE_ME@redis.example.internal:6379/0"}, "POSSYNC_REDIS_URL"),
        ({"POSSYNC_REDIS_URL": "sentinel://s0:26379;sentinel://:change-me@s1:26379",
          "POSSYNC_REDIS_SENTINEL_MASTER": "mymaster"}, "POSSYNC_REDIS_URL"),
        ({"POSSYNC_SECRET_KEY": "replace-with-the-output-of-the-command-above"}, "POSSYNC_SECRET_KEY"),
        ({"POSSYNC_SECRET_KEY": "REPLACE_ME_WITH_A_FERNET_KEY"}, "POSSYNC_SECRET_KEY"),
        ({"POSSYNC_FLOWER_BASIC_AUTH": "admin:change-me"}, "POSSYNC_FLOWER_BASIC_AUTH"),
        ({"POSSYNC_FLOWER_BASIC_AUTH": "admin:REPLACE_ME"}, "POSSYNC_FLOWER_BASIC_AUTH"),
    ],
    ids=["env-example-postgres", "k8s-postgres", "k8s-redis", "sentinel", "env-example-key", "k8s-key",
         "env-example-flower", "k8s-flower"],
)
def test_placeholder_secrets_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=f"^{named} still holds the example's placeholder") as caught:
        load_settings(env)
    assert "change-me" not in str(caught.value).lower() and "replace_me" not in str(caught.value).lower()


def test_real_passwords_in_urls_are_kept() -> None:
    s = load_settings({"POSSYNC_DATABASE_URL": "postgresql://possync:4f1c9e2a77d0@pg/possync",
                       "POSSYNC_REDIS_URL": "redis://:9b8e7c6d5a4f@redis:6379/0"})
    assert s.redis_url == "redis://:9b8e7c6d5a4f@redis:6379/0"


@pytest.mark.parametrize(
    ("auth", "message"),
    [("admin:S3cret,x", "no comma"), ("admin:S3cret", None), ("admin:pass:with:colons", None),
     (":S3cret", "non-empty user"), ("admin:", "non-empty"), ("admin", "user:password")],
)
def test_flower_basic_auth_is_one_login(auth: str, message: str | None) -> None:
    if message is None:
        assert load_settings({"POSSYNC_FLOWER_BASIC_AUTH": auth}).flower_basic_auth == auth
    else:
        with pytest.raises(SettingsError, match=f"POSSYNC_FLOWER_BASIC_AUTH.*{message}"):
            load_settings({"POSSYNC_FLOWER_BASIC_AUTH": auth})


@pytest.mark.parametrize(("auth", "message"), [("prom:S3cret", None), (":S3cret", "non-empty user"),
                                               ("prom:change-me", "placeholder")])
def test_metrics_basic_auth_is_a_login(auth: str, message: str | None) -> None:
    if message is None:
        assert load_settings({"POSSYNC_METRICS_BASIC_AUTH": auth}).metrics_basic_auth == auth
    else:
        with pytest.raises(SettingsError, match=f"POSSYNC_METRICS_BASIC_AUTH.*{message}"):
            load_settings({"POSSYNC_METRICS_BASIC_AUTH": auth})


def test_retention_days_default_and_bounds() -> None:
    assert load_settings({}).retention_days == 30
    assert load_settings({"POSSYNC_RETENTION_DAYS": "7"}).retention_days == 7
    with pytest.raises(SettingsError, match="POSSYNC_RETENTION_DAYS must be at least 1"):
        load_settings({"POSSYNC_RETENTION_DAYS": "0"})


def test_env_file_readable_by_others_is_warned_about(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert env_file_warning(tmp_path) is None  # no .env: nothing to say
    env = tmp_path / ".env"
    env.write_text("POSSYNC_SECRET_KEY=x\n")
    env.chmod(0o644)  # what `cp .env.example .env` gives under the usual umask
    warning = env_file_warning(tmp_path)
    assert warning is not None and "chmod 600" in warning and "0644" in warning
    env.chmod(0o640)
    assert env_file_warning(tmp_path) is not None
    env.chmod(0o600)
    assert env_file_warning(tmp_path) is None


def test_queue_depth_defaults_to_4_and_refuses_less_than_one() -> None:
    assert load_settings({}).queue_depth == 4
    assert load_settings({"POSSYNC_QUEUE_DEPTH": "64"}).queue_depth == 64
    with pytest.raises(SettingsError, match="POSSYNC_QUEUE_DEPTH"):
        load_settings({"POSSYNC_QUEUE_DEPTH": "0"})
