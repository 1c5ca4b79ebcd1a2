"""The application database's disk full (a 64 MiB tmpfs filled to the last byte; README:
"Faults, exercised"): the notifier reports the failed write and retries, turns are still
answered and an application still lands (only its crash journal is skipped, logged), no
service crashes or restarts, and once space is back the status update is queued exactly
once with the database intact (no half-written rows: the outbox row and the cursor are one
transaction). Skipped, saying so, where no tmpfs can be mounted (not root)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.chaos.faults import Chaos
from tests.chaos.helpers import STEPS, create_case, push_line, pushed, receipts, run_steps, transition
from tests.e2e.application_helpers import cases_of
from tests.e2e.conftest import Chat, texts


def fill(disk: Path) -> Path:
    """Fills the tmpfs to the last byte (unbuffered: nothing left to flush on close)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 4096, 1):
            try:
                while out.write(b"\0" * size):
                    pass
            except OSError:
                continue
    return filler


def test_disk_full_is_reported_retried_and_survived(chaos: Chaos, chat: Chat) -> None:
    if chaos.disk is None:
        pytest.skip("no size-limited tmpfs could be mounted here (needs root): disk full not exercised")
    subscriber = f"chaos-disk-{chat.sender_id}"
    case = create_case(chaos, "web", subscriber)
    run_steps(chat, 0, len(STEPS))  # the form up to the confirmation, before the disk fills
    time.sleep(1.5)  # the creation event is read
    restarts = {s.name: chaos.supervisor.restarts(s.name) for s in chaos.stack.services}
    gateway_log = chaos.stack.service("gateway").log_path
    log_before = gateway_log.stat().st_size
    filler = fill(chaos.disk)
    try:
        moved = transition(chaos, case)
        time.sleep(3.0)  # the notifier tries, fails, backs off, tries again
        failures = gateway_log.read_bytes()[log_before:].decode(errors="replace")
        assert failures.count("notifier step failed: OperationalError") >= 2  # reported, retried
        answer = chat.say("三零服务是什么意思")
        # Answered from the knowledge base (三零 is regional: with no city named, its general rule).
        assert answer["meta"]["fallback"] is False and "三零" in texts(answer), answer
        done = chat.say("确认")
        [created] = cases_of(chaos.stack, chat.sender_id)
        assert receipts(done["messages"], created["case_id"]) == 1
    finally:
        filler.unlink()
    line = push_line(moved)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line in m["text"] for m in pushed(chaos.stack, subscriber)):
        time.sleep(0.5)
    time.sleep(1.0)
    assert sum(line in m["text"] for m in pushed(chaos.stack, subscriber)) == 1
    assert {s.name: chaos.supervisor.restarts(s.name) for s in chaos.stack.services} == restarts
    assert all(s.alive() for s in chaos.stack.services)
    with sqlite3.connect(chaos.disk / "app.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
