"""Issue 9: a web conversation is its owner's alone (POST /api/chat/sessions + bearer token).

Before: any client could post as `tg:5001` (a public Telegram chat id) or read its updates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from bot.web import SENDER_PATTERN
from tests.security.conftest import bearer, open_session


def say(client: TestClient, sender_id: str, headers: dict, text: str = "你好"):  # noqa: ANN201
    return client.post("/api/chat", json={"sender_id": sender_id, "text": text}, headers=headers)


def test_sessions_are_random_and_owned(gateway: TestClient) -> None:
    import re

    a, b = open_session(gateway), open_session(gateway)
    assert a["sender_id"] != b["sender_id"] and a["token"] != b["token"]
    for session in (a, b):
        assert session["sender_id"].startswith("web:") and re.fullmatch(SENDER_PATTERN, session["sender_id"])
        assert len(session["sender_id"]) - len("web:") >= 22  # token_urlsafe(16): 128 bits
    assert say(gateway, a["sender_id"], bearer(a)).status_code == 200


def test_a_telegram_users_conversation_is_unreachable_from_the_web(gateway: TestClient) -> None:
    mine = open_session(gateway)
    assert say(gateway, "tg:5001", {}).status_code == 401
    assert say(gateway, "tg:5001", bearer(mine)).status_code == 403
    assert gateway.get("/api/chat/tg:5001/updates").status_code == 401
    assert gateway.get("/api/chat/tg:5001/updates", headers=bearer(mine)).status_code == 403


def test_another_conversations_token_is_refused(gateway: TestClient) -> None:
    victim, attacker = open_session(gateway), open_session(gateway)
    assert say(gateway, victim["sender_id"], bearer(attacker)).status_code == 403
    assert gateway.get(f"/api/chat/{victim['sender_id']}/updates", headers=bearer(attacker)).status_code == 403
    assert gateway.get(f"/api/chat/{victim['sender_id']}/updates", headers=bearer(victim)).status_code == 200


def test_ids_the_gateway_did_not_issue_are_refused(gateway: TestClient) -> None:
    mine = open_session(gateway)
    for guessed in ("web:guess", "web-1234", "test-0", "owner-of-case"):
        assert say(gateway, guessed, bearer(mine)).status_code == 403


def test_missing_or_malformed_authorization_is_401(gateway: TestClient) -> None:
    mine = open_session(gateway)
    for header in ({}, {"Authorization": mine["token"]}, {"Authorization": "Basic abc"},
                   {"Authorization": "Bearer "}):
        response = say(gateway, mine["sender_id"], header)
        assert response.status_code == 401 and response.json()["error"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_for_the_right_id_is_403(gateway: TestClient) -> None:
    mine = open_session(gateway)
    assert say(gateway, mine["sender_id"], {"Authorization": "Bearer " + mine["token"][:-1] + "x"}).status_code == 403


def test_tokens_are_stored_hashed(gateway: TestClient, tmp_path: Path) -> None:
    mine = open_session(gateway)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        rows = conn.execute("SELECT sender_id, token_sha256 FROM web_sessions").fetchall()
    assert [r[0] for r in rows] == [mine["sender_id"]]
    assert mine["token"] not in repr(rows)
