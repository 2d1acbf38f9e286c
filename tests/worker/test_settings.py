"""Settings come from the environment once, with documented defaults and one-line errors naming the variable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from worker.settings import DEFAULT_DATABASE_URL, SettingsError, env_file_warning, load_settings


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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POSSYNC_DATABASE_URL": "postgresql://possync:change-me-to-a-long-random-hex-string@postgres/possync"},
         "POSSYNC_DATABASE_URL"),
        ({"POSSYNC_DATABASE_URL": "postgresql://possync:REPLACE_ME@postgres.example.internal:5432/possync"},
         "POSSYNC_DATABASE_URL"),
        ({"POSSYNC_REDIS_URL": "redis://:REPLACE_ME@redis.example.internal:6379/0"}, "POSSYNC_REDIS_URL"),
        ({"POSSYNC_REDIS_URL": "sentinel://:pw-1@s0:26379;sentinel://:change-me@s1:26379"}, "POSSYNC_REDIS_URL"),
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
