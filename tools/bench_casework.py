"""Staff case-work figures for `make bench`: the warning job and the case queue with 10 000 open cases.

A fresh case database is filled with `cases` open cases (default 10 000) spread over the
processes of processes.yml, their stages and the last 30 days, with clocks as the case API
computes them; then the real case API process serves it (`python -m cases.main`) and:

- **Warning job**: `bot.casework.warnings.WarningJob.run_once()` against it over HTTP, with
  an empty gateway database: the first run raises every amber and red warning, the second
  finds nothing new (the steady state every `WARNINGS_POLL_S`); target ≤ 2 s per run on 2 cores.
  The digest is rendered and handed to a sender that drops it (Telegram is measured elsewhere).
- **Case queue**: `GET /queue` with `queries` requests, one after another, mixing filters
  (region, process, light, stage) and pages of 50; p50/p95/max (target p95 ≤ 300 ms); and the
  console's `GET /staff/api/cases` through the real gateway app with a logged-in session.

`python -m tools.bench_casework [--cases N]` runs it alone; tools/bench.py calls `run()`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx

from cases import clocks
from cases.context import CaseContext
from cases.models import Case, StageEntry
from cases.processes import load_catalog
from cases.workdays import add_working_days, load_holiday_file
from common import migrate
from common.crypto import case_cipher
from common.db import make_engine, make_session_factory, session_scope
from common.settings import DEV_SECRETS, Settings
from tools import secrets_env
from tools.services import Ports, Stack


def bench_secrets() -> Dict[str, str]:
    """The secrets of `.env` (generated on first use), which the case API the bench starts reads."""
    env = secrets_env.ensure()
    return {name: env[name] for name in DEV_SECRETS if env.get(name)}

PROCESSES = [("zhanjiang-low", "440800"), ("zhanjiang-high", "440800"), ("jinhua-resident", "330700"),
             ("jinhua-high", "330700"), ("guangzhou-high", "440100"), ("foshan-low", "440600")]


def fill(database_url: str, count: int, seed: int = 7) -> None:
    """Writes `count` open cases with their history and clocks (as if made over the last 30 days)."""
    rng = random.Random(seed)
    migrate.upgrade(database_url, migrate.CASES)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    settings = Settings(app_env="development", secrets=bench_secrets())
    cipher = case_cipher(settings)
    catalog = load_catalog()
    ctx = CaseContext(settings=settings, cipher=cipher, catalog=catalog,
                      holidays=load_holiday_file(settings.holidays_file), registry=None)  # type: ignore[arg-type]
    by_key = {p.key: (r, p) for r in catalog.regions for p in r.processes}
    # One fictional registry resident (cases/registry_seed.yml) for every case: only the clocks matter here.
    name, id_number = cipher.encrypt("陈海明"), cipher.encrypt("440802198003120310")
    phone = cipher.encrypt("13800138000")
    fingerprint = cipher.fingerprint("440802198003120310")
    now = ctx.now_naive()
    sequence = itertools.count(1)
    per_day: Dict[Any, Any] = {}
    with session_scope(sessions) as session:
        for index in range(count):
            key, city = PROCESSES[index % len(PROCESSES)]
            region, process = by_key[key]
            created = now - dt.timedelta(days=rng.uniform(0, 30))
            day = clocks.china_day(created)
            stages = process.stage_dicts()
            current = rng.randrange(len(stages) - 1)
            seq = next(sequence)
            number = next(per_day.setdefault((city, day), itertools.count(1)))
            case = Case(
                case_id=f"{city}-{day:%Y%m%d}-{number:04d}", city_code=city,
                day=f"{day:%Y%m%d}", seq=number, idempotency_key=f"bench-{seq}", request_fingerprint="bench",
                status="open", stage=stages[current]["key"], stages=stages,
                process={"key": process.key, "region": region.name, "voltage": process.voltage,
                         "time_limit_working_days": process.time_limit_working_days, "source": process.source,
                         "verified": process.verified},
                deadline=add_working_days(day, process.time_limit_working_days, ctx.holidays).day,
                deadline_basis="statutory_calendar", zero_investment=True, customer_type="resident",
                requested_customer_type="resident", capacity_kw=8.0, name_enc=name, id_number_enc=id_number,
                id_fingerprint=fingerprint, phone_enc=phone, province="广东省", city="湛江市", district="赤坎区",
                address_detail="人民大道中28号", area_code="440802", address_text="广东省湛江市赤坎区人民大道中28号",
                channel="web", sender_id=f"bench-{seq}", locale="zh_Hans", identity_document="verified",
                property_document="verified", consent_confirmed_at=created, registry_consent=True,
                esign_consent=True, created_at=created, updated_at=created,
            )
            moved = created
            for step in range(current + 1):
                if step:
                    moved = min(now, moved + dt.timedelta(days=rng.uniform(0, 6)))
                case.history.append(StageEntry(stage=stages[step]["key"], at=moved, note=None))
            session.add(case)
            session.flush()
            clocks.set_clock(case, moved, session=session, ctx=ctx)
            if index % 1000 == 999:
                session.flush()
                session.expunge_all()
    engine.dispose()


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def time_warning_job(case_api_url: str, database_url: str) -> Dict[str, Any]:
    from bot.casework.warnings import WarningJob
    from common.case_client import CaseClient

    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    settings = Settings(app_env="development", database_url=database_url, telegram_staff_chat_id=-1001)
    digests: List[int] = []

    async def drop(_chat: str, text: str, _buttons: Any) -> None:
        digests.append(len(text))

    async with httpx.AsyncClient() as http:
        cases = CaseClient(case_api_url, bench_secrets()["CASE_API_GATEWAY_KEY"], http, 30.0)
        job = WarningJob(cases, make_session_factory(engine), settings, send=drop)
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = await job.run_once()
            runs.append({"seconds": time.perf_counter() - started, "raised": result.raised,
                         "digested": result.digested})
    engine.dispose()
    return {"runs": runs, "digest_chars": max(digests) if digests else 0}


def time_queue(case_api_url: str, queries: int, seed: int = 11) -> Dict[str, Any]:
    rng = random.Random(seed)
    filters = [{}, {"light": "red"}, {"light": "amber"}, {"light": "amber,red"}, {"region": "湛江"},
               {"region": "金华", "light": "red"}, {"process": "guangzhou-high"}, {"stage": "supply_plan"}]
    timings: List[float] = []
    totals: Dict[str, int] = {}
    with httpx.Client(base_url=case_api_url, headers=secrets_env.staff_header(), timeout=30.0) as client:
        client.get("/queue").raise_for_status()
        for _ in range(queries):
            params = {**rng.choice(filters), "limit": 50, "offset": 50 * rng.randrange(5)}
            started = time.perf_counter()
            response = client.get("/queue", params=params)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            totals[str(sorted((k, v) for k, v in params.items() if k not in ("limit", "offset")))] = (
                response.json()["total"])
        lights = {light: client.get("/queue", params={"light": light, "limit": 1}).json()["total"]
                  for light in ("green", "amber", "red")}
    return {"p50_ms": statistics.median(timings), "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
            "queries": queries, "lights": lights}


def time_console_queue(case_api_url: str, var: Path, queries: int, seed: int = 13) -> Dict[str, Any]:
    """`GET /staff/api/cases` through the real gateway (served by uvicorn in a thread), logged in."""
    import socket
    import threading

    import uvicorn

    from bot.app import build_app
    from bot.staff import auth

    settings = Settings(app_env="development", var_dir=var, database_url=f"sqlite:///{var / 'console.db'}",
                        case_api_url=case_api_url, rasa_url="http://127.0.0.1:9", notifier_poll_s=30.0,
                        warnings_poll_s=3600.0, secrets=bench_secrets())
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    password = "bench-password-123"
    with session_scope(make_session_factory(engine)) as session:
        auth.set_account("bench", password, "supervisor", session=session)
    engine.dispose()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(settings), log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    rng = random.Random(seed)
    filters = [{}, {"light": "red"}, {"light": "amber"}, {"region": "湛江"}, {"region": "金华", "light": "red"}]
    timings: List[float] = []
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=base, timeout=30.0) as client:
            client.post("/staff/api/login", json={"username": "bench", "password": password}).raise_for_status()
            client.get("/staff/api/cases").raise_for_status()
            for _ in range(queries):
                params = {**rng.choice(filters), "limit": 50, "offset": 50 * rng.randrange(5)}
                started = time.perf_counter()
                client.get("/staff/api/cases", params=params).raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        thread.join(10)
    return {"p50_ms": statistics.median(timings), "p95_ms": percentile(timings, 0.95), "max_ms": max(timings),
            "queries": queries}


def run(cases: int = 10_000, queries: int = 200) -> Dict[str, Any]:
    """Fills a case database, serves it with the real case API and measures both figures."""
    with tempfile.TemporaryDirectory(prefix="bench-casework-") as tmp:
        var = Path(tmp)
        case_db = f"sqlite:///{var / 'cases.db'}"
        started = time.perf_counter()
        fill(case_db, cases)
        filled_s = time.perf_counter() - started
        stack = Stack(model=var / "no-model", ports=Ports.free(), var_dir=var,
                      extra_env={"CASE_DATABASE_URL": case_db, "APP_ENV": "development"})
        stack.services = stack.build()
        stack.start_service("cases")
        try:
            queue = time_queue(stack.case_api_url, queries)
            console = time_console_queue(stack.case_api_url, var, queries)
            job = asyncio.run(time_warning_job(stack.case_api_url, f"sqlite:///{var / 'app.db'}"))
        finally:
            stack.stop()
    return {"cases": cases, "fill_s": filled_s, "queue": queue, "console": console, "warning_job": job}


def print_report(figures: Dict[str, Any]) -> None:
    queue, job = figures["queue"], figures["warning_job"]
    print(f"\nstaff case work, {figures['cases']} open cases (lights {queue['lights']}):")
    print(f"  case queue GET /queue, {queue['queries']} requests: p50 {queue['p50_ms']:.0f} ms   "
          f"p95 {queue['p95_ms']:.0f} ms   max {queue['max_ms']:.0f} ms   (target p95 <= 300 ms)")
    console = figures["console"]
    print(f"  console GET /staff/api/cases (gateway, logged in), {console['queries']} requests: "
          f"p50 {console['p50_ms']:.0f} ms   p95 {console['p95_ms']:.0f} ms   max {console['max_ms']:.0f} ms")
    for index, run_ in enumerate(job["runs"], start=1):
        print(f"  warning job run {index}: {run_['seconds']:.2f} s, {run_['raised']} raised, "
              f"{run_['digested']} in the digest   (target <= 2 s)")


def run_and_print(cases: int = 10_000, queries: int = 200) -> Dict[str, Any]:
    """The one call of tools/bench.py: measures, prints, returns the figures."""
    figures = run(cases, queries)
    print_report(figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print_report(run(args.cases, args.queries))


if __name__ == "__main__":
    main()
