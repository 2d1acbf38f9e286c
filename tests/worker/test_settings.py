"""Settings come from the environment once, with documented defaults and one-line errors naming the variable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from worker.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


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
