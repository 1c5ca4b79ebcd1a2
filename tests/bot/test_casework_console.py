"""The case console /staff/cases in real headless Chromium (Debian's, driven by Playwright):
log in, see the queue with its lights, filter it, open a case and move it to its next stage
with a note (the case API records the staff member), follow the link to the resident's open
hand-off in /staff and back, see the reports' SVG charts. The gateway and the case API are the real
apps, each served by uvicorn on a loopback port."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn

from bot.app import build_app
from bot.handoff import models as hm
from bot.staff import auth
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import Settings
from tests.bot.test_casework_warnings import CaseApi, _at
from tests.cases.conftest import CHEN, GATEWAY, KEY, WANG, Clock, make_settings
from tools.services import free_port

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")


class Served:
    """An ASGI app served by uvicorn in a thread."""

    def __init__(self, app: Any):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclasses.dataclass
class Console:
    gateway: Served
    case_api: CaseApi
    zhanjiang: str
    jinhua: str


@pytest.fixture()
def console(tmp_path: Any) -> Iterator[Console]:
    clock = Clock()
    case_api = CaseApi(make_settings(tmp_path / "cases"), clock)
    zhanjiang = case_api.create(CHEN, customer_type="hv", capacity_kw=630)  # 湛江 high voltage, 3 stages
    jinhua = case_api.create(WANG)  # 金华 resident: 5 working days, amber on 11-30
    clock.now = _at("2026-11-30")
    settings = Settings(
        app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}",
        case_api_url=case_api.url, rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_s=1.0,
        notifier_poll_s=5.0, secrets={"CASE_API_GATEWAY_KEY": GATEWAY["X-Api-Key"]},
    )
    engine = make_engine(settings.database_url)
    create_all(engine)
    with session_scope(make_session_factory(engine)) as session:
        auth.set_account("zhao", PASSWORD, "agent", session=session)
        # The applicant (sender web-sender-1) is also waiting for a person.
        session.add(hm.Handoff(id=1, sender_id="web-sender-1", channel="web", reason="asked", locale="zh_Hans"))
    engine.dispose()
    gateway = Served(build_app(settings))
    try:
        yield Console(gateway, case_api, zhanjiang, jinhua)
    finally:
        gateway.stop()
        case_api.stop()


def test_queue_lights_filter_and_a_transition_in_chromium(console: Console) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"{console.gateway.url}/staff/cases")
            page.fill("#username", "zhao")
            page.fill("#password", PASSWORD)
            page.click("#login button[type=submit]")
            expect(page.locator("#who")).to_contain_text("zhao")

            rows = page.locator("#queue-body tr.item")
            expect(rows).to_have_count(2)
            expect(rows.first).to_have_attribute("data-case", console.jinhua)  # least time left first
            expect(rows.first).to_have_attribute("data-light", "amber")
            expect(page.locator(f'#queue-body tr[data-case="{console.zhanjiang}"]')).to_have_attribute(
                "data-light", "green")
            page.select_option("#f-light", "amber")
            page.click("#filters button[type=submit]")
            expect(rows).to_have_count(1)
            page.select_option("#f-light", "")
            page.click("#filters button[type=submit]")
            expect(rows).to_have_count(2)

            page.click(f'#queue-body tr[data-case="{console.zhanjiang}"]')
            expect(page.locator("#case-title")).to_contain_text(console.zhanjiang)
            expect(page.locator("#case-info")).to_contain_text("陈*明")
            expect(page.locator("#case-info")).not_to_contain_text("陈海明")
            button = page.locator('#next-stages button[data-stage="supply_plan"]')
            expect(button).to_be_visible()
            page.fill("#note", "供电方案已答复")
            button.click()
            expect(page.locator("#history tr").last).to_contain_text("zhao")
            expect(page.locator("#history tr").last).to_contain_text("供电方案已答复")
            expect(page.locator('#next-stages button[data-stage="inspection_and_connection"]')).to_be_visible()

            # The resident's open hand-off is linked both ways.
            page.click("#case-links a.handoff-link")
            expect(page.locator("#meta")).to_contain_text("H000001")
            page.click(f'#cases a[href="/staff/cases/{console.zhanjiang}"]')
            expect(page.locator("#case-title")).to_contain_text(console.zhanjiang)

            page.click('#nav a[data-view="reports"]')
            expect(page.locator("#chart-weeks svg rect").first).to_be_attached()
        finally:
            browser.close()
    case = httpx.get(f"{console.case_api.url}/cases/{console.zhanjiang}", headers={"X-Api-Key": KEY}).json()
    assert case["stage"] == "supply_plan"
    assert (case["history"][-1]["actor"], case["history"][-1]["note"]) == ("zhao", "供电方案已答复")
