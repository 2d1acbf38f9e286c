"""Structured logging: JSON or console, tenant and job ids bound inside tasks, personal data masked.

Every log line passes `mask_personal_data`, which masks anything shaped like an email or a phone
number wherever it appears (SPEC rule 30), so a careless `log.info(..., customer=...)` cannot leak.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w/.:-])\+?\d[\d\s().-]{6,}\d(?![\w/.:-])")


def mask_text(text: str) -> str:
    """`jane.doe@example.com` -> `j***@e***.com`; `+1 613-555-1212` -> `***1212`."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***.{m.group(3)}", text)
    return _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-4:], text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if k in ("timestamp", "level", "logger") else _mask(v)) for k, v in event_dict.items()}


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
