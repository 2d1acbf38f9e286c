"""Structured logging: JSON or console, tenant and job ids bound inside tasks, personal data masked.

Every log line passes `mask_personal_data` (SPEC rule 30): emails and phone numbers are masked
wherever they appear, so a careless `log.info(..., customer=...)` cannot leak, and the values of
name and address fields are masked whole. What is not personal stays readable: IP addresses, ports,
ids, dates and times.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w/.:-])\+?\(?\d[\d\s().-]{6,}\d(?![\w/.:-])")
# Shaped like a phone but not one: an IPv4 address, a date (with the hour), an id of 12 digits or more
# (Shopify's have 13; a phone written without "+" and separators has at most 11). Shorter bare digit
# runs may be either and are masked; a field named `id` or `*_id` is an id and left alone.
_NOT_A_PHONE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?|\d{12,}")
# Fields holding a person's name, address or birthday: masked whole, whatever their shape.
_PERSONAL_FIELDS = frozenset({
    "first_name", "last_name", "firstname", "lastname", "full_name", "company", "address", "address1",
    "address2", "street", "city", "zip", "postal_code", "postcode", "birthday", "dob", "date_of_birth",
})


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if _NOT_A_PHONE.fullmatch(text) else "***" + re.sub(r"\D", "", text)[-4:]


def mask_text(text: str) -> str:
    """`jane.doe@example.com` -> `j***@e***.com`; `+1 613-555-1212` -> `***1212`; `127.0.0.1` stays."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***.{m.group(3)}", text)
    return _PHONE.sub(_mask_phone, text)


def _mask(value: Any, field: str = "") -> Any:
    if field == "id" or field.endswith("_id"):
        return value
    if field.lower() in _PERSONAL_FIELDS and value not in (None, ""):
        return "***"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, field) for v in value]
    return value


def mask_personal_data(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if k in ("timestamp", "level", "logger") else _mask(v, k)) for k, v in event_dict.items()}


def configure_logging(log_format: str = "json", level: int = logging.INFO) -> None:
    """Route stdlib and structlog through one pipeline ending in the masker and the renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]
    renderer = structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[
        structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def bind_job(**ids: Any) -> None:
    """Bind tenant / job / event ids to every log line of the current task."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**ids)


get_logger = structlog.get_logger
