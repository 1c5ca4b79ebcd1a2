"""The chat page meets an expired conversation (401, reason session_expired): it opens a new
one, tells the resident so politely, and answers the message they just sent (Chromium; skipped
when /usr/bin/chromium is missing)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from bot import web
from bot.app import build_app
from bot.chat import ChatService
from bot.web_sessions import GrantCache, WebSession
from common.db import session_scope
from tests.bot.conftest import FakeRasa
from tests.security.conftest import gateway_settings, serve

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")
NOTICE = "之前的对话因长时间未使用已经结束"


def test_the_page_opens_a_new_conversation_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings = gateway_settings(tmp_path, web_session_idle_days=30)
    app = build_app(settings)
    with serve(app) as base, sync_playwright() as playwright:
        fake = FakeRasa()
        app.state.rasa = fake
        app.state.chat = ChatService(settings, fake, app.state.sessions)  # type: ignore[arg-type]
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(f"{base}/")
            expect(page.locator(".msg.bot").first).to_contain_text("ECHO /greet")
            old = json.loads(page.evaluate("localStorage.getItem('power-assistant-session')"))
            with session_scope(app.state.sessions) as db:  # a month and a day without a visit
                db.execute(update(WebSession).values(last_used_at=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(days=31)))
            monkeypatch.setattr(web, "_grants", GrantCache())  # this gateway's cache of it lapsed too
            page.fill("#text", "电费怎么交")
            page.click("#send")
            expect(page.locator(".msg.bot").nth(1)).to_contain_text(NOTICE)
            expect(page.locator(".msg.bot").nth(2)).to_contain_text("ECHO 电费怎么交")
            new = json.loads(page.evaluate("localStorage.getItem('power-assistant-session')"))
            assert new["sender_id"] != old["sender_id"]
            assert [r["sender_id"] for r in fake.received][-1] == new["sender_id"]
        finally:
            browser.close()
