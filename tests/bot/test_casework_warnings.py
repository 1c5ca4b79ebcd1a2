"""The time-limit warning job against the real case API (over HTTP, its clock set by the test)
and the real python-telegram-bot against the Bot API emulator: 80 % and overdue raised once
each, never twice across a restart or with two runners at once, the digest in the staff
group with links and acknowledge buttons, escalation of unacknowledged red warnings."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
import threading
import time
from typing import Any, AsyncIterator, Dict, Iterator, List

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import func, select
from telegram import Bot

from bot.casework.models import CaseWarning
from bot.casework.warnings import (
    ACK_PREFIX,
    DIGEST_LINES,
    WarningJob,
    _insert_ignore,
    count_open,
    render_digest,
    telegram_sender,
    warning_rows,
)
from bot.chat import ChatService
from bot.telegram.app import TelegramFrontEnd, build_telegram
from cases.app import build_app
from common.case_client import CaseClient
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.i18n import t
from common.settings import Settings
from knowledge.service import KnowledgeBase
from tests.bot.conftest import FakeRasa, telegram_settings
from tests.cases.conftest import CHEN, GATEWAY, KEY, STAFF, Clock, application, make_settings, new_key
from tests.telegram.emulator import BotApiEmulator

pytestmark = pytest.mark.asyncio

STAFF_CHAT = -1001
SUPERVISORS = -1002
BASE = "http://gateway.test"


def _at(day: str, hour_utc: int = 2) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour_utc, tzinfo=dt.timezone.utc)


class CaseApi:
    """The real case API app served by uvicorn on a loopback port, in a thread."""

    def __init__(self, settings: Settings, clock: Clock):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(build_app(settings, clock=clock), log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def create(self, person: Dict[str, str] = CHEN, **overrides: Any) -> str:
        response = httpx.post(f"{self.url}/cases", json=application(person, **overrides),
                              headers={**new_key(), **STAFF})
        assert response.status_code == 201, response.text
        return str(response.json()["case_id"])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def case_api(tmp_path: Any, clock: Clock) -> Iterator[CaseApi]:
    server = CaseApi(make_settings(tmp_path / "cases"), clock)
    yield server
    server.stop()


@dataclasses.dataclass
class Gateway:
    settings: Settings
    front: TelegramFrontEnd
    job: WarningJob
    http: httpx.AsyncClient

    def new_job(self, clock: Clock) -> WarningJob:
        """A runner as a restarted or second gateway process has it: its own engine and sessions."""
        sessions = make_session_factory(make_engine(self.settings.database_url))
        cases = CaseClient(self.settings.case_api_url, KEY, self.http)
        return WarningJob(cases, sessions, self.settings, send=telegram_sender(self.front.application.bot),
                          clock=clock)

    def rows(self) -> List[CaseWarning]:
        sessions = make_session_factory(make_engine(self.settings.database_url))
        with session_scope(sessions) as session:
            return list(session.execute(select(CaseWarning).order_by(CaseWarning.id)).scalars())


@pytest_asyncio.fixture()
async def gateway(
    tmp_path: Any, emulator: BotApiEmulator, kb: KnowledgeBase, case_api: CaseApi, clock: Clock
) -> AsyncIterator[Gateway]:
    settings = telegram_settings(
        tmp_path, emulator, case_api_url=case_api.url, public_base_url=BASE,
        telegram_staff_chat_id=str(STAFF_CHAT), telegram_supervisor_chat_id=str(SUPERVISORS),
        warning_escalate_after_s=3600.0, secrets={"CASE_API_GATEWAY_KEY": GATEWAY["X-Api-Key"]},
    )
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    async with httpx.AsyncClient() as http:
        cases = CaseClient(settings.case_api_url, KEY, http)
        application_ = build_telegram(settings, ChatService(settings, FakeRasa(), sessions), sessions, kb, cases,
                                      http=http)  # type: ignore[arg-type]
        front = TelegramFrontEnd(application_, settings)
        await front.start()
        deadline = time.monotonic() + 10
        while not (application_.updater and application_.updater.running) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        job = WarningJob(cases, sessions, settings, send=telegram_sender(application_.bot), clock=clock)
        try:
            yield Gateway(settings, front, job, http)
        finally:
            await front.stop()
            emulator.reset_failures()
            engine.dispose()


def _digests(emulator: BotApiEmulator, chat: int, since: float) -> List[Dict[str, Any]]:
    return [c.params for c in emulator.calls_of("sendMessage", chat) if c.at >= since and c.error is None]


async def test_each_level_is_raised_once_across_restarts_and_two_runners(
    gateway: Gateway, case_api: CaseApi, clock: Clock, emulator: BotApiEmulator
) -> None:
    started = time.time()
    case_id = case_api.create(CHEN)  # 湛江 low voltage, 2026-11-24: 8 working days, amber from 12-03
    assert (await gateway.job.run_once()).raised == 0
    clock.now = _at("2026-12-02")
    assert (await gateway.job.run_once()).raised == 0
    clock.now = _at("2026-12-03")
    first = await gateway.job.run_once()
    assert (first.raised, first.digested) == (1, 1)
    digests = _digests(emulator, STAFF_CHAT, started)
    assert len(digests) == 1
    text = digests[0]["text"]
    assert t("casework.digest.title", "zh_Hans", count=1) in text
    assert f'<a href="{BASE}/staff/cases/{case_id}">{case_id}</a>' in text and "🟡" in text
    assert "用电申请" in text and "2026-12-04" in text
    amber = gateway.rows()[0]
    sent = emulator.sent(STAFF_CHAT)[-1]
    assert sent.buttons[0]["callback_data"] == f"{ACK_PREFIX}{amber.id}"

    assert await gateway.job.run_once() == type(first)(0, 0, 0)  # the same run again: nothing new
    restarted = gateway.new_job(clock)  # a restarted gateway: nothing in memory
    assert await restarted.run_once() == type(first)(0, 0, 0)
    assert len(_digests(emulator, STAFF_CHAT, started)) == 1

    clock.now = _at("2026-12-07")  # overdue; two gateway processes run the job at the same moment
    runners = [gateway.new_job(clock), gateway.new_job(clock)]
    await asyncio.gather(*(runner.run_once() for runner in runners))
    levels = [(w.case_id, w.stage, w.level) for w in gateway.rows()]
    assert levels == [(case_id, "application", "amber"), (case_id, "application", "red")]
    digests = _digests(emulator, STAFF_CHAT, started)
    assert len(digests) == 2 and "🔴" in digests[1]["text"] and "🟡" not in digests[1]["text"]
    for runner in runners:
        assert (await runner.run_once()).raised == 0
    assert len(_digests(emulator, STAFF_CHAT, started)) == 2


async def test_two_runners_in_two_threads_insert_one_row_each(
    gateway: Gateway, case_api: CaseApi, clock: Clock, emulator: BotApiEmulator
) -> None:
    """Truly concurrent runners (each its own thread, event loop, engine and Bot): one row, one digest."""
    started = time.time()
    for _ in range(5):
        case_api.create(CHEN)
    clock.now = _at("2026-12-03")
    settings = gateway.settings

    def runner() -> None:
        async def main() -> None:
            async with httpx.AsyncClient() as http, Bot(settings.telegram_bot_token,
                                                         base_url=settings.telegram_base_url) as bot:
                sessions = make_session_factory(make_engine(settings.database_url))
                job = WarningJob(CaseClient(settings.case_api_url, KEY, http), sessions, settings,
                                 send=telegram_sender(bot), clock=clock)
                await job.run_once()

        asyncio.run(main())

    await asyncio.gather(asyncio.to_thread(runner), asyncio.to_thread(runner))
    assert len(gateway.rows()) == 5
    digests = _digests(emulator, STAFF_CHAT, started)
    assert len(digests) == 1 and digests[0]["text"].count("🟡") == 5


async def test_acknowledged_in_the_staff_group_and_red_escalated_when_nobody_does(
    gateway: Gateway, case_api: CaseApi, clock: Clock, emulator: BotApiEmulator
) -> None:
    started = time.time()
    acked_case = case_api.create(CHEN)
    ignored_case = case_api.create(CHEN)
    clock.now = _at("2026-12-07")  # both overdue at once: red only
    result = await gateway.job.run_once()
    assert (result.raised, result.digested, result.escalated) == (2, 2, 0)
    digest = emulator.sent(STAFF_CHAT)[-1]
    acked = next(w for w in gateway.rows() if w.case_id == acked_case)
    # A press outside the staff group does nothing.
    emulator.press(555, digest.message_id, f"{ACK_PREFIX}{acked.id}", user_id=555)
    emulator.press(STAFF_CHAT, digest.message_id, f"{ACK_PREFIX}{acked.id}", user_id=4242)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(emulator.calls_of("answerCallbackQuery")) < 2:
        await asyncio.sleep(0.05)
    answers = [c.params.get("text") for c in emulator.calls_of("answerCallbackQuery") if c.at >= started]
    assert t("casework.ack.not_here", "zh_Hans") in answers
    assert t("casework.ack.done", "zh_Hans", case=acked_case) in answers
    acked = next(w for w in gateway.rows() if w.case_id == acked_case)
    assert acked.acked_by == "tg:4242" and acked.acked_at is not None

    clock.advance(minutes=30)
    assert (await gateway.job.run_once()).escalated == 0  # not yet an hour
    clock.advance(hours=1)
    assert (await gateway.job.run_once()).escalated == 1
    escalations = _digests(emulator, SUPERVISORS, started)
    assert len(escalations) == 1
    assert t("casework.escalation.title", "zh_Hans", count=1, hours="1") in escalations[0]["text"]
    assert ignored_case in escalations[0]["text"] and acked_case not in escalations[0]["text"]
    clock.advance(hours=5)
    assert (await gateway.job.run_once()).escalated == 0  # repeated once, not every run


async def test_a_case_that_moves_on_resolves_its_warnings_and_is_not_escalated(
    gateway: Gateway, case_api: CaseApi, clock: Clock, emulator: BotApiEmulator
) -> None:
    started = time.time()
    case_id = case_api.create(CHEN)
    clock.now = _at("2026-12-03")
    assert (await gateway.job.run_once()).raised == 1  # amber
    clock.now = _at("2026-12-07")
    assert (await gateway.job.run_once()).raised == 1  # red; the amber one is resolved
    amber, red = gateway.rows()
    assert amber.resolved_at is not None and red.resolved_at is None
    moved = httpx.post(f"{case_api.url}/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"},
                       headers=STAFF)
    assert moved.status_code == 200
    clock.advance(hours=2)
    result = await gateway.job.run_once()
    assert (result.raised, result.escalated) == (0, 0)
    assert all(w.resolved_at is not None for w in gateway.rows())
    sessions = make_session_factory(make_engine(gateway.settings.database_url))
    with session_scope(sessions) as session:
        assert count_open(session=session) == {"amber": 0, "red": 0}
    assert _digests(emulator, SUPERVISORS, started) == []


async def test_a_failed_send_is_retried_on_the_next_run(
    gateway: Gateway, case_api: CaseApi, clock: Clock, emulator: BotApiEmulator
) -> None:
    started = time.time()
    case_api.create(CHEN)
    clock.now = _at("2026-12-03")
    emulator.fail_next(1, error_code=400, methods={"sendMessage"})
    result = await gateway.job.run_once()
    assert (result.raised, result.digested) == (1, 0)
    assert (await gateway.job.run_once()).digested == 1
    assert len(_digests(emulator, STAFF_CHAT, started)) == 1
    assert gateway.rows()[0].digested_at is not None


async def test_without_a_staff_chat_warnings_wait_in_the_console(tmp_path: Any, case_api: CaseApi,
                                                                 clock: Clock) -> None:
    settings = Settings(app_env="test", database_url=f"sqlite:///{tmp_path / 'gw.db'}", case_api_url=case_api.url)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sent: List[str] = []

    async def send(chat: str, text: str, buttons: Any) -> None:
        sent.append(text)

    case_api.create(CHEN)
    clock.now = _at("2026-12-03")
    async with httpx.AsyncClient() as http:
        job = WarningJob(CaseClient(case_api.url, KEY, http), make_session_factory(engine), settings, send=send,
                         clock=clock)
        result = await job.run_once()
    assert (result.raised, result.digested, sent) == (1, 0, [])


def test_the_digest_fits_one_message_and_counts_the_rest() -> None:
    now = dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc)
    items = [{"case_id": f"440800-20261124-{n:04d}", "stage": "application", "light": "red", "clock": "running",
              "region": "湛江", "process": "zhanjiang-low", "stage_deadline": "2026-12-04",
              "working_days_left": -1, "stage_names": {"zh_Hans": "用电申请"}} for n in range(1, 46)]
    items.append({**items[0], "light": "green"})
    items.append({**items[0], "case_id": "x", "light": "red", "clock": "waiting_on_resident"})
    rows = warning_rows(items, now)
    assert len(rows) == 45
    warnings = [CaseWarning(id=n, **row) for n, row in enumerate(rows, start=1)]
    text, buttons = render_digest(warnings, BASE, "zh_Hans", title_key="casework.digest.title")
    assert len(text) < 4096 and len(buttons) == DIGEST_LINES
    assert t("casework.digest.more", "zh_Hans", count=45 - DIGEST_LINES, url=f"{BASE}/staff/cases") in text


def test_conflict_ignore_keeps_one_row(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    create_all(engine)
    sessions = make_session_factory(engine)
    row = {"case_id": "c1", "stage": "application", "level": "red", "region": "", "process": "", "stage_names": {},
           "stage_deadline": None, "working_days_left": None, "raised_at": dt.datetime.now(dt.timezone.utc)}
    for _ in range(2):
        with session_scope(sessions) as session:
            _insert_ignore(session, [row, row])
    with session_scope(sessions) as session:
        assert session.execute(select(func.count()).select_from(CaseWarning)).scalar_one() == 1
