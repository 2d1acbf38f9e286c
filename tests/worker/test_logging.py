"""SPEC rule 30: personal data never appears in logs unmasked."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from possync.worker.logging import bind_job, configure_logging, get_logger, mask_text


@pytest.fixture(autouse=True)
def unconfigured() -> Iterator[None]:
    """Each test sees only what its own `configure_logging` set (structlog's configuration is process-wide);
    the tests after it get back what was there before."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


def last_line(capsys) -> str:  # type: ignore[no-untyped-def]
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_emails_and_phones_are_masked() -> None:
    text = mask_text("customer jane.doe@example.com called from +1 613-555-1212")
    assert "jane.doe" not in text and "example.com" not in text and "613-555" not in text
    assert "j***@e***.com" in text and "***1212" in text


def test_ids_and_timestamps_are_left_alone() -> None:
    assert mask_text("job 42 at 2026-11-22T10:00:00+00:00 url http://127.0.0.1:8000/x") == (
        "job 42 at 2026-11-22T10:00:00+00:00 url http://127.0.0.1:8000/x"
    )


def test_inside_a_message_a_phone_and_an_email_are_masked_and_an_ip_address_is_not() -> None:
    text = mask_text('connection to "127.0.0.1", port 5432: customer Jane@Example.com, (613) 555-1212 at 10.0.0.12')
    assert text == 'connection to "127.0.0.1", port 5432: customer J***@E***.com, ***1212 at 10.0.0.12'


@pytest.mark.parametrize("kept", [
    '127.0.0.1 - - [07/Dec/2026 10:43:34] "POST /webhooks/shopify HTTP/1.1" 200 -',
    "customer 7001234567890 not found",
    "polled at 2026-12-07 10:43:34, port 6379",
])
def test_ids_addresses_and_times_in_free_text_are_left_alone(kept: str) -> None:
    assert mask_text(kept) == kept


@pytest.mark.parametrize("phone", ["6135551212", "+1 613-555-1212", "613.555.1212", "+44 20 7946 0958", "555-1212"])
def test_phones_as_typed_at_a_till_are_masked(phone: str) -> None:
    assert mask_text(f"phone {phone}!") == f"phone ***{phone[-4:]}!"


def test_name_and_address_fields_are_masked_whole_and_id_fields_kept(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", logging.INFO)
    get_logger("possync.test").info("payload", job_id="123456789", customer={
        "first_name": "Jane", "last_name": "Roe", "address1": "1 Main St", "city": "Ottawa", "zip": "K1A 0B1",
        "id": "7001234567"})
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert record["customer"] == {"first_name": "***", "last_name": "***", "address1": "***", "city": "***",
                                  "zip": "***", "id": "7001234567"}
    assert record["job_id"] == "123456789"


def test_log_lines_are_json_with_bound_ids_and_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", logging.INFO)
    bind_job(tenant="acme", job_id=7)
    get_logger("possync.test").info("matched", email="Jane@Example.com", phone="6135551212")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["tenant"] == "acme" and record["job_id"] == 7
    assert "Jane@Example.com" not in line and "6135551212" not in line


def test_an_email_and_a_phone_in_the_message_itself_are_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    """The message (structlog's `event` key) is free text too: an f-string must not leak what it formats."""
    configure_logging("json", logging.INFO)
    email, phone = "jane.doe@example.com", "+1 613-555-1212"
    get_logger("possync.test").info(f"no POS customer for {email} or {phone}")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["event"] == "no POS customer for j***@e***.com or ***1212"
    assert "jane.doe" not in line and "613-555" not in line


@pytest.mark.parametrize(("phone", "masked"), [("+1 613 555 12 12", "***1212"), ("(613) 555-12.12", "***1212")])
def test_a_phone_keeps_only_its_last_four_digits_whatever_separates_them(phone: str, masked: str) -> None:
    assert mask_text(f"phone {phone}") == f"phone {masked}"


def test_lists_are_masked_item_by_item_and_an_empty_name_stays_empty(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", logging.INFO)
    get_logger("possync.test").info("candidates", emails=["jane@example.com", "joe@example.org"], first_name="")
    record = json.loads(last_line(capsys))
    assert record["emails"] == ["j***@e***.com", "j***@e***.org"] and record["first_name"] == ""


def test_by_default_lines_are_json_stamped_in_utc_iso(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging()
    get_logger("possync.test").info("started")
    record = json.loads(last_line(capsys))
    assert record["event"] == "started" and record["level"] == "info" and record["logger"] == "possync.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", record["timestamp"]), record["timestamp"]


def test_the_console_format_is_not_json_and_still_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("console", logging.INFO)
    get_logger("possync.test").info("matched", email="jane@example.com")
    line = last_line(capsys)
    assert not line.startswith("{") and "matched" in line and "j***@e***.com" in line and "jane@" not in line


def test_a_library_logging_through_the_standard_library_is_masked_too(capsys) -> None:  # type: ignore[no-untyped-def]
    """Rule 30 holds for lines possync does not write itself (celery, kombu, sqlalchemy use `logging`)."""
    configure_logging("json", logging.INFO)
    logging.getLogger("celery.worker").info("task for %s failed", "jane@example.com")
    record = json.loads(last_line(capsys))
    assert record["event"] == "task for j***@e***.com failed" and record["logger"] == "celery.worker"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", record["timestamp"])


def test_the_level_given_filters_lines(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", logging.WARNING)
    get_logger("possync.test").info("quiet")
    get_logger("possync.test").warning("loud")
    assert [json.loads(line)["event"] for line in capsys.readouterr().err.strip().splitlines()] == ["loud"]
