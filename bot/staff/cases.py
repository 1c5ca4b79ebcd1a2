"""The resident's cases as staff see them next to a hand-off: stage and deadline, nothing personal.

Stage names and the deadline text come from `common/case_presentation.py`, the same wording
the resident reads in their receipt, status replies, pushes and status page.
"""

from __future__ import annotations

from typing import Any, Dict

from common.case_presentation import deadline_text, stage_name
from common.pii import mask_text


def case_summary(case: Dict[str, Any], locale: str) -> Dict[str, Any]:
    """A case reduced to what a staff member needs (no name, ID number, phone or address)."""
    current = next((s for s in case.get("stages") or [] if s.get("key") == case.get("stage")), None)
    return {
        "case_id": mask_text(str(case.get("case_id", ""))),
        "status": case.get("status"),
        "stage": case.get("stage"),
        "stage_name": stage_name(current, locale) if current else str(case.get("stage") or ""),
        "deadline": case.get("deadline"),
        "deadline_text": deadline_text(case, locale),
        "process": case.get("process"),
        "customer_type": case.get("customer_type"),
    }
