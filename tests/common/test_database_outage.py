"""PostgreSQL unreachable, then back: services wait and retry, reporting it, instead of
crashing into a restart loop. The machine's server is never stopped: the code under test
is pointed at a port where nothing listens, and a forwarder to the real server is opened on
that port later."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Iterator, Optional

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.notifier import Notifier
from common import migrate
from common.db import make_engine, make_session_factory, session_scope
from common.outbox import OutboxMessage
from common.settings import ROOT
from tests.bot.test_notifier import FakeFeed, event
from tests.databases import new_schema
from tools.services import free_port


class Forwarder:
    """A TCP forwarder to the real server, opened on `port` only when `open()` is called."""

    def __init__(self, port: int, target_host: str, target_port: int):
        self.port, self.target = port, (target_host, target_port)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[asyncio.base_events.Server] = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def open(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def close(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join(10)


@pytest.fixture()
def pg_schema_url(postgres_database: str) -> str:
    return new_schema(postgres_database)


@pytest.fixture()
def forwarder(pg_schema_url: str) -> Iterator[Forwarder]:
    real = make_url(pg_schema_url)
    running = Forwarder(free_port(), real.host or "127.0.0.1", real.port or 5432)
    yield running
    running.close()


def _through(url: str, forwarder: Forwarder) -> str:
    return make_url(url).set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)


def test_start_up_waits_for_the_database_then_migrates(pg_schema_url: str, forwarder: Forwarder) -> None:
    env = {**os.environ, "DATABASE_URL": _through(pg_schema_url, forwarder)}
    run = subprocess.Popen([sys.executable, "-m", "common.migrate", "app"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2.5)
    assert run.poll() is None, run.communicate()[0]  # still waiting, not crashed
    forwarder.open()
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 0, output
    assert "app database unreachable" in output and "retrying in" in output and "app: at head" in output
    engine = make_engine(pg_schema_url)
    assert migrate.differences(engine) == []
    engine.dispose()


@pytest.mark.asyncio
async def test_the_notifier_reports_and_retries_until_the_database_is_back(
    pg_schema_url: str, forwarder: Forwarder, caplog: pytest.LogCaptureFixture
) -> None:
    direct = make_engine(pg_schema_url)
    migrate.APP.metadata().create_all(direct)
    engine = make_engine(_through(pg_schema_url, forwarder))
    feed = FakeFeed()
    feed.feed += [event(1, "case.created", "acceptance"),
                  event(2, "case.stage_changed", "supply_plan", previous_stage="acceptance")]
    notifier = Notifier(feed, make_session_factory(engine), 0.05)  # type: ignore[arg-type]
    task = asyncio.ensure_future(notifier.run())
    try:
        await asyncio.sleep(1.5)
        assert not task.done()  # errors are retried, the loop lives on
        assert any("notifier step failed" in r.getMessage() for r in caplog.records)
        forwarder.open()
        deadline = time.monotonic() + 30
        keys: list = []
        while time.monotonic() < deadline and not keys:
            await asyncio.sleep(0.2)
            with session_scope(make_session_factory(direct)) as session:
                keys = session.execute(select(OutboxMessage.dedupe_key)).scalars().all()
        assert keys == ["event:2:tg:11"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
        direct.dispose()
