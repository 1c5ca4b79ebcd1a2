"""The staff API contract and its access control, against the real gateway app (in process).

Rasa and the case API are not running: hand-off turns are answered by the gateway itself
(before Rasa), which is what makes this test fast. The same flow with the whole stack, the real
Rasa included, is tests/e2e/test_handoff.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List

import pytest
from fastapi.testclient import TestClient

from bot.app import build_app
from bot.staff import auth
from common.db import make_engine, make_session_factory, session_scope
from common.i18n import t
from common.settings import ROOT, Settings
from tools.services import free_port

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("staff")


@pytest.fixture(scope="module")
def gateway(var_dir: Any) -> Iterator[TestClient]:
    """One gateway for the module (the tests run in order on its database)."""
    tmp_path = var_dir
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}",
        rasa_url=dead, case_api_url=dead, rasa_timeout_s=1.0, case_api_timeout_s=1.0, notifier_poll_s=5.0,
    )
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_ENV": "test"}
    done = subprocess.run([sys.executable, "-m", "tools.staff", "add", "sue", "--role", "supervisor"],
                          input=PASSWORD + "\n", text=True, capture_output=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    engine = make_engine(settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        for name in ("alice", "bob"):
            auth.set_account(name, PASSWORD, "agent", session=session)
    engine.dispose()
    with TestClient(build_app(settings), base_url="http://127.0.0.1") as client:
        yield client


_logged_in: Dict[str, tuple[str, str]] = {}  # username -> (session cookie, CSRF token)


def login(client: TestClient, username: str) -> Dict[str, str]:
    """Acts as `username` from now on (logs in once per module: argon2 is slow on purpose)."""
    client.cookies.clear()
    if username not in _logged_in:
        response = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        _logged_in[username] = (response.cookies[auth.COOKIE], response.json()["csrf_token"])
        client.cookies.clear()
    cookie, csrf = _logged_in[username]
    client.cookies.set(auth.COOKIE, cookie, domain="127.0.0.1", path="/staff")
    return {"X-CSRF-Token": csrf}


# Residents by name: each a conversation the gateway issued (`POST /api/chat/sessions`).
_residents: Dict[str, Dict[str, str]] = {}


def resident(client: TestClient, name: str) -> Dict[str, str]:
    if name not in _residents:
        response = client.post("/api/chat/sessions")
        assert response.status_code == 201, response.text
        _residents[name] = response.json()
    return _residents[name]


def sid(name: str) -> str:
    return _residents[name]["sender_id"]


def say(client: TestClient, name: str, text: str) -> Dict[str, Any]:
    session = resident(client, name)
    response = client.post("/api/chat", json={"sender_id": session["sender_id"], "text": text},
                           headers={"Authorization": f"Bearer {session['token']}"})
    assert response.status_code == 200, response.text
    return response.json()


def pushed(client: TestClient, name: str) -> List[Dict[str, Any]]:
    session = resident(client, name)
    response = client.get(f"/api/chat/{session['sender_id']}/updates?after=0",
                          headers={"Authorization": f"Bearer {session['token']}"})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def test_login_cookie_and_access_control(gateway: TestClient) -> None:
    assert gateway.get("/staff/api/handoffs").status_code == 401
    assert gateway.post("/staff/api/handoffs/1/claim").status_code == 401
    started = time.monotonic()
    for _ in range(3):
        bad = gateway.post("/staff/api/login", json={"username": "alice", "password": "wrong password!"})
        assert bad.status_code == 401
    assert time.monotonic() - started >= auth.BASE_DELAY_S * 3  # failures slow the next attempts
    response = gateway.post("/staff/api/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["username"] == "alice"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Max-Age=" in cookie
    headers = {"X-CSRF-Token": response.json()["csrf_token"]}
    assert gateway.get("/staff/api/handoffs?state=waiting").json() == {"handoffs": []}
    assert gateway.get("/staff/api/handoffs?state=bogus").status_code == 422
    assert gateway.post("/staff/api/handoffs/1/claim").status_code == 403  # no CSRF header
    assert gateway.post("/staff/api/handoffs/1/claim", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert gateway.post("/staff/api/handoffs/999/claim", headers=headers).status_code == 404
    assert gateway.post("/staff/api/logout", headers=headers).status_code == 200
    assert gateway.get("/staff/api/handoffs").status_code == 401
    assert gateway.get("/staff").status_code == 200 and "人工客服工作台" in gateway.get("/staff").text


def test_queue_claim_relay_note_close_rating(gateway: TestClient) -> None:
    first = say(gateway, "web-r1", "转人工")
    assert first["meta"]["handoff"] is True and "排在第1位" in first["messages"][0]["text"]
    urgent = say(gateway, "web-r2", "楼道里电线掉落了，还冒火花")
    assert urgent["meta"]["handoff"] is True and "120" in urgent["messages"][0]["text"]
    alice = login(gateway, "alice")
    queue = gateway.get("/staff/api/handoffs?state=waiting").json()["handoffs"]
    assert [h["sender_id"] for h in queue] == [sid("web-r2"), sid("web-r1")]
    assert queue[0]["priority"] == "urgent" and set(queue[1]) >= {
        "id", "state", "channel", "sender_id", "reason", "priority", "locale", "opened_at", "waiting_s", "assignee"}
    ticket = queue[1]["id"]
    assert gateway.post(f"/staff/api/handoffs/{ticket}/claim", headers=alice).status_code == 200
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=alice,
                        json={"text": "您好，我是客服小李", "internal": False}).status_code == 200
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=alice,
                        json={"text": "居民情绪激动，注意安抚", "internal": True}).status_code == 200
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=alice,
                        json={"canned": "how_to_apply"}).status_code == 200
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=alice,
                        json={"canned": "no_such_entry"}).status_code == 422
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=alice, json={}).status_code == 422

    bob = login(gateway, "bob")
    assert gateway.post(f"/staff/api/handoffs/{ticket}/claim", headers=bob).status_code == 409
    assert gateway.post(f"/staff/api/handoffs/{ticket}/messages", headers=bob,
                        json={"text": "me too", "internal": False}).status_code == 409
    assert gateway.post(f"/staff/api/handoffs/{ticket}/close", headers=bob).status_code == 409

    updates = pushed(gateway, "web-r1")
    relayed = [u["text"] for u in updates]
    assert t("handoff.staff_says", "zh_Hans", text="您好，我是客服小李") in relayed
    assert not any("情绪激动" in text for text in relayed)  # the note stays with staff
    assert any("在线申请" in text or "申请" in text for text in relayed[2:])  # the canned answer
    assert all(isinstance(u["seq"], int) for u in updates)
    assert pushed(gateway, "web-r2") == []  # nothing to another

    silent = say(gateway, "web-r1", "好的，我的手机是13812345678")
    assert silent["meta"]["handoff"] is True and silent["messages"] == []
    other = say(gateway, "web-r3", "我是别人，想插话")  # another resident never reaches this hand-off
    assert other["meta"]["handoff"] is False

    alice = login(gateway, "alice")
    detail = gateway.get(f"/staff/api/handoffs/{ticket}").json()
    roles = [(m["role"], m["text"]) for m in detail["transcript"]]
    assert ("resident", "好的，我的手机是138****5678") in roles
    assert ("note", "居民情绪激动，注意安抚") in roles and detail["cases"] == []
    assert not any("别人" in text for _role, text in roles)
    assert gateway.post(f"/staff/api/handoffs/{ticket}/close", headers=alice).status_code == 200
    assert gateway.post(f"/staff/api/handoffs/{ticket}/close", headers=alice).status_code == 409

    last = pushed(gateway, "web-r1")[-1]
    assert [b["payload"] for b in last["buttons"]] == [f"/handoff_rate_{n}" for n in range(1, 6)]
    assert say(gateway, "web-r1", "/handoff_rate_1")["messages"][0]["text"].startswith(
        t("handoff.rate.callback", "zh_Hans"))
    say(gateway, "web-r1", "等了太久")
    ratings = gateway.get("/staff/api/ratings").json()
    assert ratings["count"] == 1 and ratings["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}
    assert ratings["average"] == 1 and ratings["flagged"] == 1 and list(ratings["by_staff"]) == ["alice"]
    login(gateway, "bob")
    assert gateway.get("/staff/api/ratings").json()["by_staff"] == {}  # an agent sees their own figures
    login(gateway, "sue")
    assert list(gateway.get("/staff/api/ratings").json()["by_staff"]) == ["alice"]


def test_staff_tool_lists_and_disables(gateway: TestClient, var_dir: Any) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{var_dir / 'app.db'}", "APP_ENV": "test"}
    listed = subprocess.run([sys.executable, "-m", "tools.staff", "list"], text=True, capture_output=True,
                            env=env, cwd=ROOT, check=True).stdout
    assert "alice\tagent\tenabled" in listed and "sue\tsupervisor\tenabled" in listed
    with pytest.raises(auth.AccountError, match="at least"):
        engine = make_engine(env["DATABASE_URL"])
        try:
            with session_scope(make_session_factory(engine)) as session:
                auth.set_account("eve", "short", session=session)
        finally:
            engine.dispose()
    headers = login(gateway, "bob")
    subprocess.run([sys.executable, "-m", "tools.staff", "disable", "bob"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    assert gateway.get("/staff/api/handoffs", headers=headers).status_code == 401  # its sessions end
    assert gateway.post("/staff/api/login", json={"username": "bob", "password": PASSWORD}).status_code == 401
    engine = make_engine(env["DATABASE_URL"])
    with session_scope(make_session_factory(engine)) as session:
        hashes = [a.password_hash for a in auth.list_accounts(session=session)]
    engine.dispose()
    assert all(h.startswith("$argon2id$") for h in hashes)
