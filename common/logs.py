"""Logging set-up shared by every process: one format, personal data masked in every record.

Masking happens where records are made (`logging.setLogRecordFactory`), not on handlers: Rasa,
uvicorn and others add their own handlers and loggers that do not propagate to the root, and a
record factory reaches all of them, whatever the level or handler a library configures later.
The factory masks the message and the formatted traceback and stack (a record's `exc_text`
is what every `logging.Formatter` prints), and the project's own handlers format through
`MaskingFormatter`, which masks the whole formatted line once more.

Client libraries log every request URL at INFO (httpx: the Bot API token, Rasa's token, a
preview's address): `quiet_client_libraries` keeps them at WARNING in every process.
"""

from __future__ import annotations

import logging
from typing import Any

from common.pii import PiiFilter, mask_text

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log requests (URL, query string) at INFO or DEBUG.
CLIENT_LIBRARIES = ("httpx", "httpcore", "urllib3", "requests", "aiohttp.client", "hpack")
_TRACEBACKS = logging.Formatter()


class MaskingFormatter(logging.Formatter):
    """A formatter whose whole output (message, traceback, stack) has personal data masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def quiet_client_libraries() -> None:
    """HTTP client libraries log at WARNING and above only (their INFO lines carry URLs)."""
    for name in CLIENT_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def _mask_traceback(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


def mask_every_record() -> None:
    """Masks ID numbers and phones in every log record this process makes (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_pii", False):
        return
    pii_filter = PiiFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        pii_filter.filter(record)
        _mask_traceback(record)
        return record

    factory.masks_pii = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO") -> None:
    """One masking format on the root logger, masking of every record, quiet HTTP clients."""
    logging.basicConfig(level=level.upper(), format=_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(MaskingFormatter(_FORMAT))
    mask_every_record()
    quiet_client_libraries()
