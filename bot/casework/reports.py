"""The staff reports (服务线上评价): the case API's figures plus the gateway's own, as JSON and CSV.

- `weeks`: per ISO week and region, cases opened and connected, the share connected within
  their time limit (from the case API, `GET /reports/cases`);
- `processes`: median working days from application to connection per process, against the
  promise of processes.yml (湛江 low voltage 8, 广州 high voltage 25, ...);
- `fallbacks`: the questions that most often ended in a fallback, masked (table
  `fallback_questions`, filled by `bot.casework.activity`): candidates for new knowledge-base
  question variants.

- `handoffs`: per ISO week of the request, hand-offs asked for, the median seconds from the
  request to the first staff reply (not from the resident's first message), ratings given and
  their average, low ratings flagged for a call-back (回访) (the hand-off tables, `bot/handoff`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from typing import Any, Dict, List

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.models import FallbackQuestion
from common.case_client import CaseClient
from common.db import session_scope

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
TOP_FALLBACKS = 20
COLUMNS: Dict[str, List[str]] = {
    "weeks": ["week", "region", "opened", "connected", "connected_within_limit", "share_within_limit"],
    "processes": ["process", "region", "promise_working_days", "verified", "connected", "connected_within_limit",
                  "share_within_limit", "median_working_days", "meets_promise"],
    "fallbacks": ["text", "count", "last_at"],
    "handoffs": ["week", "handoffs", "answered", "median_first_response_s", "ratings", "average_rating", "flagged"],
}


def top_fallbacks(
    since: dt.date, until: dt.date, *, session: Session, limit: int = TOP_FALLBACKS
) -> List[Dict[str, Any]]:
    """The most frequent fallback questions between two dates in China (text already masked)."""
    start, end = _bounds(since, until)
    count, last = func.count(FallbackQuestion.id), func.max(FallbackQuestion.at)
    rows = session.execute(
        select(FallbackQuestion.text, count, last)
        .where(FallbackQuestion.at >= start, FallbackQuestion.at < end)
        .group_by(FallbackQuestion.text)
        .order_by(count.desc(), last.desc())
        .limit(limit)
    ).all()
    return [{"text": text, "count": int(n), "last_at": _iso(at)} for text, n, at in rows]


def handoff_weeks(since: dt.date, until: dt.date, *, session: Session) -> List[Dict[str, Any]]:
    """Hand-offs per week of the request: count, median time to the first staff reply, ratings."""
    from bot.handoff.models import Handoff, Rating

    start, end = _bounds(since, until)
    weeks: Dict[str, Dict[str, Any]] = {}

    def week(at: dt.datetime) -> Dict[str, Any]:
        monday = _local_day(at) - dt.timedelta(days=_local_day(at).weekday())
        return weeks.setdefault(monday.isoformat(), {"week": monday.isoformat(), "handoffs": 0, "waits": [],
                                                     "scores": [], "flagged": 0})

    rows = session.execute(select(Handoff.opened_at, Handoff.first_staff_reply_at)
                           .where(Handoff.opened_at >= start, Handoff.opened_at < end))
    for opened, replied in rows:
        entry = week(opened)
        entry["handoffs"] += 1
        if replied is not None:
            entry["waits"].append((_aware(replied) - _aware(opened)).total_seconds())
    ratings = session.execute(select(Rating.at, Rating.score, Rating.flagged)
                              .where(Rating.at >= start, Rating.at < end))
    for at, score, flagged in ratings:
        entry = week(at)
        entry["scores"].append(score)
        entry["flagged"] += int(bool(flagged))
    return [
        {"week": e["week"], "handoffs": e["handoffs"], "answered": len(e["waits"]),
         "median_first_response_s": round(statistics.median(e["waits"]), 1) if e["waits"] else None,
         "ratings": len(e["scores"]),
         "average_rating": round(sum(e["scores"]) / len(e["scores"]), 2) if e["scores"] else None,
         "flagged": e["flagged"]}
        for _key, e in sorted(weeks.items())
    ]


def _bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(since, dt.time(), CHINA_TZ).astimezone(dt.timezone.utc)
    return start, dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), CHINA_TZ).astimezone(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _local_day(value: dt.datetime) -> dt.date:
    return _aware(value).astimezone(CHINA_TZ).date()


def _iso(value: Any) -> Any:
    if not isinstance(value, dt.datetime):
        return str(value) if value is not None else None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.replace(microsecond=0).isoformat()


async def service_report(cases: CaseClient, sessions: sessionmaker, since: dt.date, until: dt.date) -> Dict[str, Any]:
    """Every table of the report for the period."""
    figures = await cases.report(since.isoformat(), until.isoformat())
    with session_scope(sessions) as session:
        fallbacks = top_fallbacks(since, until, session=session)
        handoffs = handoff_weeks(since, until, session=session)
    return {"since": figures.get("since"), "until": figures.get("until"), "weeks": figures.get("weeks") or [],
            "processes": figures.get("processes") or [], "fallbacks": fallbacks, "handoffs": handoffs}


def to_csv(report: Dict[str, Any], table: str) -> str:
    """One table of the report as CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese)."""
    columns = COLUMNS[table]
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.get(table) or []:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a question starting with = must not become a spreadsheet formula
    return "" if value is None else value
