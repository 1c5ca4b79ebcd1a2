"""Upgrades that carry data, on both engines: the one-open-hand-off index over a database that
already has duplicates (two gateways before the index could open two: the newest open one
stays, older ones are closed with a note, closed hand-offs and other conversations are
untouched); web sessions issued before their last use was recorded."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from common import migrate
from common.db import make_engine

BEFORE = "2692f585ad3e"  # the revision before the index


def test_older_duplicates_are_closed_before_the_index_is_built(database_url: str) -> None:
    command.upgrade(migrate.config(migrate.APP, database_url), BEFORE)
    engine = make_engine(database_url)
    opened = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    rows = [(1, "web:dup", "waiting"), (2, "web:dup", "closed"), (3, "web:dup", "active"), (4, "web:dup", "waiting"),
            (5, "web:one", "active"), (6, "tg:7", "closed")]
    with engine.begin() as conn:
        for id_, sender, state in rows:
            conn.execute(text(
                "INSERT INTO handoffs (id, sender_id, channel, state, reason, priority, emergency, locale, lead, "
                "deferred, opened_at) VALUES (:id, :sender, 'web', :state, 'asked', 'normal', false, 'zh_Hans', "
                "false, false, :opened)"), {"id": id_, "sender": sender, "state": state, "opened": opened})
    migrate._upgraded.clear()
    migrate.upgrade(database_url)
    try:
        with engine.connect() as conn:
            states = dict(conn.execute(text("SELECT id, state FROM handoffs")).all())
            closed_by = dict(conn.execute(text("SELECT id, closed_by FROM handoffs")).all())
            notes = conn.execute(text("SELECT handoff_id FROM handoff_messages WHERE role = 'system' "
                                      "ORDER BY handoff_id")).scalars().all()
        assert states == {1: "closed", 2: "closed", 3: "closed", 4: "waiting", 5: "active", 6: "closed"}
        assert closed_by[1] == closed_by[3] == "system" and closed_by[2] is None
        assert notes == [1, 3]
        assert migrate.differences(engine) == []
    finally:
        engine.dispose()


def test_sessions_issued_before_last_use_was_recorded_start_a_full_idle_period(database_url: str) -> None:
    command.upgrade(migrate.config(migrate.APP, database_url), "5b1e7c3d9a20")
    engine = make_engine(database_url)
    created = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)  # long before any idle limit
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO web_sessions (sender_id, token_sha256, created_at) VALUES ('web:old', :d, :c)"),
                     {"d": "0" * 64, "c": created})
    before = dt.datetime.now(dt.timezone.utc)
    migrate._upgraded.clear()
    migrate.upgrade(database_url)
    try:
        with engine.connect() as conn:
            used = conn.execute(text("SELECT last_used_at FROM web_sessions")).scalar_one()
        used = used if isinstance(used, dt.datetime) else dt.datetime.fromisoformat(str(used))
        assert (used if used.tzinfo else used.replace(tzinfo=dt.timezone.utc)) >= before - dt.timedelta(seconds=1)
        assert migrate.differences(engine) == []
    finally:
        engine.dispose()
