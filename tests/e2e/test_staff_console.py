"""The /staff console in real headless Chromium (Debian's, driven by Playwright; no browser download).

A resident asks for a person on the web; a staff member logs in to the console, opens the
queue, claims the hand-off, replies, writes an internal note and closes it. The reply reaches
the resident's `/updates`, the note does not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.i18n import t
from tests.e2e.conftest import Chat
from tests.e2e.staff_helpers import PASSWORD, StaffClient, add_staff
from tools.services import Stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(os.environ.get("STAFF_CONSOLE_SCREENSHOT", "/tmp/staff-console.png"))

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")


def test_console_login_claim_reply_note_close(chat: Chat, stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    add_staff(stack, "console.zhao")
    assert chat.say("我要找客服")["meta"]["handoff"] is True
    api = StaffClient(stack.gateway_url, "console.zhao")
    handoff_id = api.handoff_of(chat.sender_id)["id"]
    api.close()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.goto(f"{stack.gateway_url}/staff")
            page.fill("#username", "console.zhao")
            page.fill("#password", "not the password")
            page.click("#login button[type=submit]")
            expect(page.locator("#login-error")).to_have_text("用户名或密码不正确")
            page.fill("#password", PASSWORD)
            page.click("#login button[type=submit]")
            expect(page.locator("#who")).to_contain_text("console.zhao")

            row = page.locator(f'#queue tr.item[data-id="{handoff_id}"]')
            expect(row).to_be_visible()
            row.click()
            expect(page.locator("#claim")).to_be_visible()
            page.click("#claim")
            expect(page.locator("#meta")).to_contain_text("处理人 console.zhao")

            page.fill("#reply", "您好，我是客服小赵，请讲。")
            page.click("#send")
            expect(page.locator("#transcript .r-staff").last).to_contain_text("您好，我是客服小赵")
            page.fill("#reply", "居民第二次来电")
            page.click("#note")
            expect(page.locator("#transcript .r-note").last).to_contain_text("居民第二次来电")
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.click("#close")
            expect(page.locator("#meta")).to_contain_text("已结束")
        finally:
            browser.close()
    relayed = [m["text"] for m in chat.updates(0)["messages"]]
    assert t("handoff.staff_says", "zh_Hans", text="您好，我是客服小赵，请讲。") in relayed
    assert not any("第二次来电" in text for text in relayed)
    assert relayed[-1] == t("handoff.rate.ask", "zh_Hans")
