"""What the staff group reads: topic names, the hand-off card, the queue (staff's locale).

Topic names are seen by everyone in the group and stay in Telegram: they carry the ticket
number and the reason only, never a name, phone or address. The card opens each topic with
the channel, priority, locale, the transcript (masked when stored, masked again here) and the
resident's cases with stage and deadline (no applicant data).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from bot.handoff.models import Handoff, HandoffMessage
from common.case_presentation import deadline_text, stage_name
from common.i18n import t
from common.pii import mask_text

MAX_TOPIC_NAME = 128
TRANSCRIPT_LINES = 20
LINE_CHARS = 300
REASONS = ("asked", "fallbacks", "form_help", "complaint", "emergency", "outage", "hv_lead")
ROLE_MARKS = {"resident": "👤", "bot": "🤖", "staff": "🧑‍💼", "note": "📝", "system": "·"}
# Topic icon colours (Telegram's fixed palette): red for emergencies, yellow for high priority.
ICON_RED = 0xFB6F5F
ICON_YELLOW = 0xFFD67E
ICON_BLUE = 0x6FB9F0


def reason_label(reason: str, locale: str) -> str:
    return t(f"tg.staff.reason.{reason}", locale) if reason in REASONS else reason


def priority_label(priority: str, locale: str) -> str:
    return t(f"tg.staff.priority.{priority}", locale) if priority in ("urgent", "high", "normal") else priority


def topic_name(handoff: Handoff, locale: str) -> str:
    """`🚨 H000042 · 触电/着火等紧急情况`: ticket and reason, nothing personal."""
    mark = "🚨 " if handoff.emergency else ""
    return f"{mark}{handoff.ticket} · {reason_label(handoff.reason, locale)}"[:MAX_TOPIC_NAME]


def icon_color(handoff: Handoff) -> int:
    if handoff.emergency or handoff.priority == "urgent":
        return ICON_RED
    return ICON_YELLOW if handoff.priority == "high" else ICON_BLUE


def _line(text: str) -> str:
    text = mask_text(" ".join((text or "").split()))
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


def transcript_lines(messages: Sequence[HandoffMessage], locale: str) -> List[str]:
    shown = [m for m in messages if m.role != "system"][-TRANSCRIPT_LINES:]
    if not shown:
        return [t("tg.staff.card.no_transcript", locale)]
    return [f"{ROLE_MARKS.get(m.role, '·')} {_line(m.text)}" for m in shown]


def case_lines(cases: Iterable[Dict[str, Any]], locale: str) -> List[str]:
    lines = []
    for case in cases:
        if case.get("status") in ("completed", "cancelled", "rejected"):
            continue
        stage = next((s for s in case.get("stages") or [] if s.get("key") == case.get("stage")), None)
        name = stage_name(stage, locale) if stage else str(case.get("stage") or "")
        try:
            deadline = deadline_text(case, locale)
        except ValueError:  # a deadline the case API wrote in another form: shown as given
            deadline = str(case.get("deadline"))
        lines.append(t("tg.staff.card.case", locale, case_id=case.get("case_id", ""), stage=name,
                       deadline=deadline))
    return lines or [t("tg.staff.card.no_cases", locale)]


def card_text(
    handoff: Handoff, messages: Sequence[HandoffMessage], cases: Iterable[Dict[str, Any]], locale: str,
    claimed_by: Optional[str] = None, recreated: bool = False,
) -> str:
    """The card that opens a hand-off's topic."""
    lines = []
    if recreated:
        lines.append(t("tg.staff.recreated", locale))
    lines.append(t("tg.staff.card.head", locale, ticket=handoff.ticket, reason=reason_label(handoff.reason, locale)))
    lines.append(t("tg.staff.card.meta", locale, priority=priority_label(handoff.priority, locale),
                   channel=handoff.channel, lang=handoff.locale))
    if handoff.emergency:
        lines.append(t("tg.staff.card.emergency", locale))
    if handoff.lead:
        lines.append(t("tg.staff.card.lead", locale))
    lines += ["", t("tg.staff.card.transcript", locale), *transcript_lines(messages, locale)]
    lines += ["", t("tg.staff.card.cases", locale), *case_lines(cases, locale)]
    lines += ["", t("tg.staff.card.help", locale)]
    if claimed_by:
        lines += ["", t("tg.staff.claimed_by", locale, staff=claimed_by)]
    return "\n".join(lines)


def queue_text(waiting: Sequence[Handoff], locale: str, now: Any = None) -> str:
    """`/queue`: the waiting hand-offs in queue order with their waiting time."""
    if not waiting:
        return t("tg.staff.queue_empty", locale)
    lines = [t("tg.staff.queue_head", locale, count=len(waiting))]
    for place, handoff in enumerate(waiting, 1):
        minutes = int(handoff.waiting_s(now) // 60)
        mark = "🚨 " if handoff.emergency else ""
        lines.append(t("tg.staff.queue_line", locale, place=place, ticket=f"{mark}{handoff.ticket}",
                       priority=priority_label(handoff.priority, locale),
                       reason=reason_label(handoff.reason, locale), minutes=minutes))
    return "\n".join(lines)
