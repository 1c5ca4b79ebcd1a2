"""Several instances starting at once load the knowledge files into one database in turn."""

from __future__ import annotations

import threading
from typing import List

from common import migrate
from common.settings import ROOT
from knowledge.service import KnowledgeBase


def test_instances_loading_at_once_do_not_collide(database_url: str) -> None:
    migrate.upgrade(database_url)
    loaded: List[int] = []
    errors: List[BaseException] = []
    start = threading.Barrier(2)

    def instance() -> None:
        start.wait()
        try:
            loaded.append(len(KnowledgeBase.load(ROOT / "knowledge", database_url).entries))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and len(loaded) == 2 and len(set(loaded)) == 1 and loaded[0] > 0
