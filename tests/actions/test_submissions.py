"""The queue of applications made while the case API was down: delivered once, on both
engines, with two action servers delivering at the same time."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any, Dict

from sqlalchemy import select

from actions import submissions
from common.crypto import FieldCipher
from common.db import session_scope
from common.outbox import OutboxMessage
from common.settings import DEV_SECRETS, Settings

CIPHER = FieldCipher([DEV_SECRETS["DATA_ENCRYPTION_KEYS"]])
SETTINGS = Settings(app_env="test")


class SlowCaseApi:
    """Creates cases (slowly, so two deliverers overlap) and counts the calls per key."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def create_case(self, body: Dict[str, Any], key: str, retries: int = 0) -> Dict[str, Any]:
        with self._lock:
            self.calls[key] += 1
            n = len(self.calls)
        await asyncio.sleep(0.02)
        return {"case_id": f"440800-20261201-{n:04d}", "stages": [], "stage": "acceptance",
                "deadline": "2026-12-11"}


def _queue(app_sessions, count: int) -> None:  # noqa: ANN001
    with session_scope(app_sessions) as session:
        for n in range(count):
            assert submissions.queue({"name": f"申请人{n}"}, f"key-{n}", f"web-{n}", "web", "zh_Hans", CIPHER,
                                     session=session)
        assert not submissions.queue({"name": "again"}, "key-0", "web-0", "web", "zh_Hans", CIPHER,
                                     session=session)


def test_two_action_servers_deliver_each_queued_application_once(app_sessions) -> None:  # noqa: ANN001
    _queue(app_sessions, 12)
    api = SlowCaseApi()
    landed: Dict[str, int] = {}

    def server(holder: str) -> None:
        async def drain() -> int:
            total = 0
            for _ in range(20):
                total += await submissions.deliver_due(api, app_sessions, CIPHER, SETTINGS,  # type: ignore[arg-type]
                                                       holder=holder)
            return total

        landed[holder] = asyncio.run(drain())

    threads = [threading.Thread(target=server, args=(f"actions-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(landed.values()) == 12 and len(landed) == 2
    assert sorted(api.calls) == sorted(f"key-{n}" for n in range(12))
    assert set(api.calls.values()) == {1}  # never created twice, not even with the same key
    with session_scope(app_sessions) as session:
        statuses = set(session.execute(select(submissions.PendingApplication.status)).scalars())
        receipts = session.execute(select(OutboxMessage.dedupe_key)).scalars().all()
    assert statuses == {submissions.DELIVERED}
    assert sorted(receipts) == sorted(f"receipt:key-{n}:{i}" for n in range(12) for i in range(2))


def test_the_workers_receipt_is_known_to_a_later_confirmation(app_sessions) -> None:  # noqa: ANN001
    """A confirmation repeated after the worker delivered (`actions.submitting.receipt_sent`)
    learns that the receipt went out; one the worker never handled does not."""
    from actions import submitting

    _queue(app_sessions, 2)
    with session_scope(app_sessions) as session:  # key-1 stays with its turn
        row = session.execute(select(submissions.PendingApplication).where(
            submissions.PendingApplication.idempotency_key == "key-1")).scalar_one()
        row.next_attempt_at = submissions.utcnow().replace(year=2100)
    asyncio.run(submissions.deliver_due(SlowCaseApi(), app_sessions, CIPHER, SETTINGS, holder="a"))  # type: ignore[arg-type]
    with session_scope(app_sessions) as session:
        assert submitting.receipt_sent("key-0", session=session)
        assert not submitting.receipt_sent("key-1", session=session)
