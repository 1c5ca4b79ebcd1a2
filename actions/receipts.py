"""How a case is shown to the resident: the receipt after applying, and its status later.

Shared by the action that submits the application, the worker that delivers queued ones,
and the status action, so a case reads the same wherever it appears. Dates are formatted
with babel in the resident's locale ("2026年12月4日星期五"); the QR code links to the signed
status page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from common.case_presentation import deadline_text, stage_name, stage_names  # noqa: F401  (shared)
from common.i18n import format_day, format_number, t
from common.links import qr_url
from common.settings import Settings

Message = Dict[str, Any]


def stages_line(stages: List[Dict[str, Any]], locale: str, current: Optional[str] = None) -> str:
    """用电申请 → 【现场勘查和装表接电】: the process, the current stage in brackets."""
    parts = []
    for stage in stages:
        name = stage_name(stage, locale)
        parts.append(t("case.current_mark", locale, stage=name) if stage.get("key") == current else name)
    return " → ".join(parts)


def _day(value: Any, locale: str) -> str:
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return format_day(when.date(), locale, "medium")


def history_lines(case: Dict[str, Any], locale: str) -> List[str]:
    names = stage_names(case, locale)
    return [
        t("case.history_item", locale, date=_day(item.get("at"), locale), stage=names.get(str(item.get("stage")), ""))
        for item in case.get("history") or []
    ]


def process_summary(preview: Dict[str, Any], locale: str) -> str:
    """The process, time limit and deadline that will apply (shown before confirming)."""
    process = preview.get("process") or {}
    lines = [
        t("form.summary.process", locale, stages=stages_line(preview.get("stages") or [], locale)),
        t(
            "form.summary.time_limit",
            locale,
            days=format_number(process.get("time_limit_working_days") or 0, locale),
            deadline=deadline_text(preview, locale),
        ),
        t("form.summary.zero_investment_yes" if preview.get("zero_investment") else "form.summary.zero_investment_no",
          locale),
    ]
    if process.get("verified") is False:
        lines.append(t("form.summary.unverified", locale))
    return "\n".join(lines)


def receipt_messages(case: Dict[str, Any], locale: str, settings: Settings) -> List[Message]:
    """The receipt: case number, stages, deadline, pending items, and the QR code image."""
    case_id = str(case["case_id"])
    lines = [
        t("receipt.created", locale, case_id=case_id),
        t("receipt.stages", locale, stages=stages_line(case.get("stages") or [], locale, case.get("stage"))),
        t("receipt.deadline", locale, deadline=deadline_text(case, locale)),
    ]
    linked = [t(f"form.linked.{item.get('kind')}", locale) for item in case.get("linked_applications") or []]
    if linked:
        lines.append(t("receipt.linked", locale, utilities=(", " if locale == "en" else "、").join(linked)))
    for item in case.get("pending_items") or []:
        if item.get("status") == "pending":
            lines.append(t(f"receipt.pending.{item.get('kind')}", locale))
    lines.append(t("receipt.follow_up", locale))
    image = qr_url(settings.public_base_url, settings.secret("LINK_SIGNING_KEY"), case_id)
    return [
        {"text": "\n".join(lines), "buttons": []},
        {"text": t("receipt.qr_caption", locale), "buttons": [], "image_url": image},
    ]


def status_text(case: Dict[str, Any], locale: str) -> str:
    """One case's status: number, current stage, stages, history, deadline."""
    names = stage_names(case, locale)
    done = case.get("status") == "completed"
    lines = [
        t("status.case_line", locale, case_id=case.get("case_id"), stage=names.get(str(case.get("stage")), "")),
        t("receipt.stages", locale, stages=stages_line(case.get("stages") or [], locale, case.get("stage"))),
        *history_lines(case, locale),
        t("status.completed", locale) if done else t("receipt.deadline", locale, deadline=deadline_text(case, locale)),
    ]
    return "\n".join(lines)
