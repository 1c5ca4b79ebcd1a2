"""Messages pushed later reach web senders through GET /api/chat/{sender_id}/updates."""

from __future__ import annotations

import httpx

from common import outbox
from common.db import create_all, make_engine, make_session_factory, session_scope


def test_pushed_messages_come_in_order_once(client: httpx.Client, stack, sender: str) -> None:
    engine = make_engine(f"sqlite:///{stack.var_dir / 'app.db'}")
    create_all(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:

        def push(text: str, key: str):  # noqa: ANN202
            return outbox.enqueue(sender, "web", "status", {"text": text, "buttons": []}, key, session=session)

        first = push("one", f"evt-1:{sender}")
        again = push("one", f"evt-1:{sender}")
        second = push("two", f"evt-2:{sender}")
    engine.dispose()
    assert again is None and second > first
    data = client.get(f"/api/chat/{sender}/updates", params={"after": 0}).json()
    assert [m["text"] for m in data["messages"]] == ["one", "two"]
    assert [m["seq"] for m in data["messages"]] == [first, second]
    later = client.get(f"/api/chat/{sender}/updates", params={"after": data["last_seq"]}).json()
    assert later["messages"] == []
