"""Messages pushed later reach web senders through GET /api/chat/{sender_id}/updates."""

from __future__ import annotations

from common import outbox
from common.db import create_all, make_engine, make_session_factory, session_scope
from tests.e2e.conftest import Chat


def test_pushed_messages_come_in_order_once(chat: Chat, stack) -> None:
    sender = chat.sender_id
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
    data = chat.updates(0).json()
    assert [m["text"] for m in data["messages"]] == ["one", "two"]
    assert [m["seq"] for m in data["messages"]] == [first, second]
    later = chat.updates(data["last_seq"]).json()
    assert later["messages"] == []
