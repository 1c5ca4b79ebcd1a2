"""Logging set-up shared by every process: one format, personal data masked in every record.

Masking happens where records are made (`logging.setLogRecordFactory`), not on handlers: Rasa,
uvicorn and others add their own handlers and loggers that do not propagate to the root, and a
record factory reaches all of them, whatever the level or handler a library configures later.
"""

from __future__ import annotations

import logging
from typing import Any

from common.pii import PiiFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask_every_record() -> None:
    """Masks ID numbers and phones in every log record this process makes (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_pii", False):
        return
    pii_filter = PiiFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        pii_filter.filter(record)
        return record

    factory.masks_pii = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO") -> None:
    """One format on the root logger, and masking of every record."""
    logging.basicConfig(level=level.upper(), format=_FORMAT)
    mask_every_record()
