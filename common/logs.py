"""Logging set-up shared by every process: one format, personal data masked on every handler."""

from __future__ import annotations

import logging

from common.pii import PiiFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Installs the masking filter on the root handlers (and on any added later via the root)."""
    logging.basicConfig(level=level.upper(), format=_FORMAT)
    pii_filter = PiiFilter()
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, PiiFilter) for f in handler.filters):
            handler.addFilter(pii_filter)
