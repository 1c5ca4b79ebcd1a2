"""The staff queue's table: one row per open case with its current stage's time-limit clock.

The light of 10 000 open cases must be filterable and sortable in SQL, but working days are
not SQL arithmetic (调休). So when a case is created or moves, the dates that decide its light
are computed once and stored: the stage deadline (limit used up) and the amber date (80 %
used). On any day the light is then a comparison with today, done by the database
(`light_expression`), and "sorted by time left" is "sorted by stage deadline". The row is
deleted when the case completes. A separate table (not columns on `cases`) so a database
written before it exists is filled in at start-up (`backfill`), without an ALTER.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cases.context import CHINA_TZ, CaseContext
from cases.models import Base, Case
from cases.processes import Catalog, split_limit
from cases.timelimits import AMBER, GREEN, RED, StageClock, stage_clock

MAX_PAGE = 500
MAX_DUE = 5000
DUE_COLUMNS = ("case_id", "stage", "light", "region", "process", "stage_deadline", "working_days_left")


class CaseClock(Base):
    __tablename__ = "case_clocks"

    case_pk = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    case_id = Column(String(24), nullable=False, unique=True)
    region = Column(String(32), nullable=False)
    process_key = Column(String(64), nullable=False)
    stage = Column(String(64), nullable=False)
    waits_on = Column(String(16), nullable=False)
    running = Column(Boolean, nullable=False)  # False while the stage waits on the customer
    started_on = Column(Date, nullable=False)  # the stage's first day, in China
    time_limit = Column(Integer, nullable=False)  # the stage's working days
    amber_on = Column(Date, nullable=False)
    stage_deadline = Column(Date, nullable=False)
    deadline = Column(Date, nullable=False)  # the case's overall deadline


# The queue's filters, each leading an index that ends in its sort order.
Index("ix_case_clocks_order", CaseClock.running, CaseClock.stage_deadline)
Index("ix_case_clocks_region", CaseClock.region, CaseClock.running, CaseClock.stage_deadline)
Index("ix_case_clocks_process", CaseClock.process_key, CaseClock.running, CaseClock.stage_deadline)
Index("ix_case_clocks_stage", CaseClock.stage, CaseClock.running, CaseClock.stage_deadline)
Index("ix_case_clocks_amber", CaseClock.running, CaseClock.amber_on)


def china_day(value: dt.datetime) -> dt.date:
    """The date in China of a stored (naive UTC) time."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(CHINA_TZ).date()


def stage_limit(case_row: Case, stage: str, catalog: Catalog) -> int:
    """The stage's working days: from the case's snapshot, else processes.yml, else an even split."""
    keys = [s["key"] for s in case_row.stages]
    for entry in case_row.stages:
        if entry["key"] == stage and isinstance(entry.get("time_limit_working_days"), int):
            return int(entry["time_limit_working_days"])
    process = catalog.process(str(case_row.process.get("key")))
    limits: Sequence[int] = ()
    if process is not None and [s.key for s in process.stages] == keys:
        limits = process.stage_limits
    else:
        limits = split_limit(int(case_row.process.get("time_limit_working_days") or 0), len(keys) - 1)
    index = keys.index(stage) if stage in keys else len(keys)
    return limits[index] if index < len(limits) else 0


def _waits_on(case_row: Case) -> str:
    return next((s.get("waits_on", "utility") for s in case_row.stages if s["key"] == case_row.stage), "utility")


def set_clock(case_row: Case, started_at: dt.datetime, *, session: Session, ctx: CaseContext) -> Optional[CaseClock]:
    """Starts the clock of the case's current stage (removes it once the case is completed)."""
    row = session.get(CaseClock, case_row.id)
    if case_row.status != "open":
        if row is not None:
            session.delete(row)
        return None
    limit = stage_limit(case_row, case_row.stage, ctx.catalog)
    waits_on = _waits_on(case_row)
    clock = stage_clock(case_row.stage, waits_on, china_day(started_at), limit, ctx.today_in_china(), ctx.calendar)
    values = dict(
        case_id=case_row.case_id, region=str(case_row.process.get("region") or ""),
        process_key=str(case_row.process.get("key") or ""), stage=case_row.stage, waits_on=waits_on,
        running=clock.running, started_on=clock.started_on, time_limit=limit, amber_on=clock.amber_on,
        stage_deadline=clock.stage_deadline, deadline=case_row.deadline,
    )
    if row is None:
        row = CaseClock(case_pk=case_row.id, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row


def backfill(*, session: Session, ctx: CaseContext) -> int:
    """Clocks for open cases that have none (a database from before this table); returns how many."""
    missing = session.execute(
        select(Case).outerjoin(CaseClock, CaseClock.case_pk == Case.id)
        .where(Case.status == "open", CaseClock.case_pk.is_(None))
    ).scalars().all()
    for case_row in missing:
        started = max((h.at for h in case_row.history if h.stage == case_row.stage), default=case_row.created_at)
        set_clock(case_row, started, session=session, ctx=ctx)
    return len(missing)


def light_expression(today: dt.date) -> ColumnElement:
    """The light in SQL: the same rule as `cases.timelimits.light_of`."""
    return case(
        (CaseClock.running.is_(False), GREEN),
        (CaseClock.stage_deadline < today, RED),
        (CaseClock.amber_on <= today, AMBER),
        else_=GREEN,
    )


def _light_filter(light: str, today: dt.date) -> ColumnElement:
    if light == RED:
        return and_(CaseClock.running.is_(True), CaseClock.stage_deadline < today)
    if light == AMBER:
        return and_(CaseClock.running.is_(True), CaseClock.stage_deadline >= today, CaseClock.amber_on <= today)
    return or_(CaseClock.running.is_(False), CaseClock.amber_on > today)


def clock_of(row: CaseClock, *, ctx: CaseContext) -> StageClock:
    today = ctx.today_in_china()
    return StageClock(
        stage=row.stage, waits_on=row.waits_on, started_on=row.started_on, time_limit_working_days=row.time_limit,
        stage_deadline=row.stage_deadline, amber_on=row.amber_on,
        working_days_used=max(0, ctx.calendar.between(row.started_on, today)), today=today,
    )


def queue_item(row: CaseClock, *, ctx: CaseContext) -> Dict[str, Any]:
    """One line of the staff queue (no personal data)."""
    stage = ctx.catalog.stages.get(row.stage)
    return {
        "case_id": row.case_id,
        "region": row.region,
        "process": row.process_key,
        **clock_of(row, ctx=ctx).as_dict(),
        "stage_names": dict(stage.names) if stage is not None else {},
        "deadline": row.deadline.isoformat(),
    }


def queue(
    *,
    session: Session,
    ctx: CaseContext,
    region: Optional[str] = None,
    process: Optional[str] = None,
    stage: Optional[str] = None,
    lights: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
) -> Tuple[List[Dict[str, Any]], int]:
    """Open cases, least time left first (stages waiting on the customer last), and the total."""
    today = ctx.today_in_china()
    conditions: List[ColumnElement] = []
    regions = [part.strip() for part in (region or "").split(",") if part.strip()]
    if regions:
        conditions.append(CaseClock.region.in_(regions))
    if process:
        conditions.append(CaseClock.process_key == process)
    if stage:
        conditions.append(CaseClock.stage == stage)
    if lights:
        conditions.append(or_(*(_light_filter(light, today) for light in lights)))
    total = session.execute(select(func.count()).select_from(CaseClock).where(*conditions)).scalar_one()
    rows = session.execute(
        select(CaseClock).where(*conditions)
        .order_by(CaseClock.running.desc(), CaseClock.stage_deadline, CaseClock.case_pk)
        .limit(min(max(limit, 1), MAX_PAGE)).offset(max(offset, 0))
    ).scalars().all()
    return [queue_item(row, ctx=ctx) for row in rows], int(total)


def case_clock(case_row: Case, *, session: Session, ctx: CaseContext) -> Optional[Dict[str, Any]]:
    """The `clock` object of an open case's JSON (None once completed)."""
    row = session.get(CaseClock, case_row.id)
    return clock_of(row, ctx=ctx).as_dict() if row is not None else None


def due(*, session: Session, ctx: CaseContext, after: int = 0, limit: int = MAX_DUE) -> Dict[str, Any]:
    """Running clocks at amber or red, in case order from `after` (keyset pages for the warning job).

    Columns only, no ORM objects: the warning job reads every such case each run.
    """
    today = ctx.today_in_china()
    light = light_expression(today).label("light")
    rows = session.execute(
        select(CaseClock.case_pk, CaseClock.case_id, CaseClock.stage, light, CaseClock.region,
               CaseClock.process_key, CaseClock.stage_deadline, CaseClock.started_on, CaseClock.time_limit)
        .where(CaseClock.running.is_(True), CaseClock.amber_on <= today, CaseClock.case_pk > after)
        .order_by(CaseClock.case_pk).limit(min(max(limit, 1), MAX_DUE))
    ).all()
    calendar = ctx.calendar
    cases = [
        [case_id, stage, level, region, process, deadline.isoformat(),
         limit_ - max(0, calendar.between(started, today))]
        for _pk, case_id, stage, level, region, process, deadline, started, limit_ in rows
    ]
    names = {stage: dict(ctx.catalog.stages[stage].names) for stage in {r[2] for r in rows}
             if stage in ctx.catalog.stages}
    return {"columns": list(DUE_COLUMNS), "cases": cases, "stage_names": names,
            "next_after": rows[-1][0] if rows else after, "today": today.isoformat()}
