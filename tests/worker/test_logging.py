"""SPEC rule 30: personal data never appears in logs unmasked."""

from __future__ import annotations

import json
import logging

from worker.logging import bind_job, configure_logging, get_logger, mask_text


def test_emails_and_phones_are_masked() -> None:
    text = mask_text("customer jane.doe@example.com called from +1 613-555-1212")
    assert "jane.doe" not in text and "example.com" not in text and "613-555" not in text
    assert "j***@e***.com" in text and "***1212" in text


def test_ids_and_timestamps_are_left_alone() -> None:
    assert mask_text("job 42 at 2026-11-22T10:00:00+00:00 url http://127.0.0.1:8000/x") == (
        "job 42 at 2026-11-22T10:00:00+00:00 url http://127.0.0.1:8000/x"
    )


def test_log_lines_are_json_with_bound_ids_and_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", logging.INFO)
    bind_job(tenant="acme", job_id=7)
    get_logger("possync.test").info("matched", email="Jane@Example.com", phone="6135551212")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["tenant"] == "acme" and record["job_id"] == 7
    assert "Jane@Example.com" not in line and "6135551212" not in line
