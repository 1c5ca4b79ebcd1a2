"""Work claims: one holder at a time, taken over when the lease lapses, on both engines."""

from __future__ import annotations

import threading
from typing import List

from sqlalchemy import update

from common import claims
from common.db import session_scope


def test_one_holder_at_a_time_renewed_released_and_taken_over(app_sessions) -> None:  # noqa: ANN001
    assert claims.claim_now(app_sessions, ["a", "b"], "w1") == ["a", "b"]
    assert claims.claim_now(app_sessions, ["b", "c"], "w2") == ["c"]
    assert claims.claim_now(app_sessions, ["a"], "w1") == ["a"]  # renewal
    claims.release_now(app_sessions, ["a", "c"], "w1")  # c is w2's: untouched
    assert claims.claim_now(app_sessions, ["a", "c"], "w2") == ["a", "c"]
    with session_scope(app_sessions) as session:  # w1 crashed: its lease on b lapses
        session.execute(update(claims.WorkClaim).where(claims.WorkClaim.name == "b").values(
            expires_at=claims.utcnow() - claims.dt.timedelta(seconds=1)))
    assert claims.claim_now(app_sessions, ["b"], "w2") == ["b"]
    assert claims.claim_now(app_sessions, ["b"], "w1") == []


def test_concurrent_claimants_split_the_work_without_overlap(app_sessions) -> None:  # noqa: ANN001
    names = [f"job:{n}" for n in range(60)]
    got: dict[str, List[str]] = {}
    start = threading.Barrier(3)

    def worker(holder: str) -> None:
        start.wait()
        mine: List[str] = []
        for n in range(0, len(names), 5):
            mine += claims.claim_now(app_sessions, names[n:n + 5], holder)
        got[holder] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [name for mine in got.values() for name in mine]
    assert len(got) == 3 and sorted(claimed) == sorted(names)  # every job once, none twice
