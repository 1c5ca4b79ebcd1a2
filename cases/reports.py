"""Service figures for staff reports (服务线上评价): per week and region, per process.

- per ISO week (Monday, in China) and region: cases opened, cases connected (reached their last
  stage, 装表接电) that week, and how many of those were connected by their deadline;
- per process: cases connected in the period, the median working days from application to
  connection (counted like the deadline: the working days after the day of application up to
  the day of connection) against the process's promise (`time_limit_working_days`, the seeds'
  figure in processes.yml).

Computed from the cases table with two grouped queries and the working-day calendar; no
personal data.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any, Dict, List, Tuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from cases.clocks import china_day
from cases.context import CHINA_TZ
from cases.models import Case, StageEntry
from cases.timelimits import WorkCalendar

MAX_DAYS = 370


def week_of(day: dt.date) -> dt.date:
    """The Monday of `day`'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def _utc_bounds(since: dt.date, until: dt.date) -> Tuple[dt.datetime, dt.datetime]:
    """[since 00:00, until+1 00:00) in China, as naive UTC like the stored times."""
    start = dt.datetime.combine(since, dt.time(), CHINA_TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), CHINA_TZ)
    return start, end.astimezone(dt.timezone.utc).replace(tzinfo=None)


def case_report(since: dt.date, until: dt.date, calendar: WorkCalendar, *, session: Session) -> Dict[str, Any]:
    """The figures for cases opened or connected between `since` and `until` (dates in China)."""
    start, end = _utc_bounds(since, until)
    weeks: Dict[Tuple[dt.date, str], Dict[str, int]] = defaultdict(
        lambda: {"opened": 0, "connected": 0, "connected_within_limit": 0}
    )
    opened = session.execute(select(Case.created_at, Case.process).where(Case.created_at >= start,
                                                                         Case.created_at < end))
    for created_at, process in opened:
        weeks[(week_of(china_day(created_at)), str(process.get("region") or ""))]["opened"] += 1
    connected_at = func.max(StageEntry.at)
    connected = session.execute(
        select(Case.created_at, Case.deadline, Case.process, connected_at)
        .join(StageEntry, StageEntry.case_pk == Case.id)
        .where(Case.status == "completed")
        .group_by(Case.id)
        .having(and_(connected_at >= start, connected_at < end))
    )
    processes: Dict[str, Dict[str, Any]] = {}
    for created_at, deadline, process, done_at in connected:
        done_day = china_day(done_at)
        within = done_day <= deadline
        week = weeks[(week_of(done_day), str(process.get("region") or ""))]
        week["connected"] += 1
        week["connected_within_limit"] += int(within)
        entry = processes.setdefault(str(process.get("key")), {
            "process": str(process.get("key")), "region": str(process.get("region") or ""),
            "promise_working_days": process.get("time_limit_working_days"),
            "verified": bool(process.get("verified")), "days": [], "within": 0,
        })
        entry["days"].append(calendar.between(china_day(created_at), done_day))
        entry["within"] += int(within)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "weeks": [
            {"week": week.isoformat(), "region": region, **figures,
             "share_within_limit": _share(figures["connected_within_limit"], figures["connected"])}
            for (week, region), figures in sorted(weeks.items())
        ],
        "processes": [_process_row(entry) for _key, entry in sorted(processes.items())],
    }


def _share(part: int, whole: int) -> Any:
    return round(part / whole, 4) if whole else None


def _process_row(entry: Dict[str, Any]) -> Dict[str, Any]:
    days: List[int] = entry["days"]
    median = float(statistics.median(days))
    promise = entry["promise_working_days"]
    return {
        "process": entry["process"], "region": entry["region"], "promise_working_days": promise,
        "verified": entry["verified"], "connected": len(days), "connected_within_limit": entry["within"],
        "share_within_limit": _share(entry["within"], len(days)), "median_working_days": median,
        "meets_promise": promise is not None and median <= promise,
    }
