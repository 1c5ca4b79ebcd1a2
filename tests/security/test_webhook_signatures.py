"""Webhook signatures carry their time (issue 9): a captured request cannot be replayed after
five minutes, nor re-dated; deliveries waiting out a back-off never hold up new ones."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

from cases.app import build_app
from cases.models import WebhookDelivery
from cases.webhooks import due_deliveries, signed_request
from common.db import make_engine, make_session_factory, session_scope
from common.webhook_signature import TOLERANCE_S, signature_header, verify_webhook
from tests.cases.conftest import CHEN, Receiver, application, make_settings, new_key, staff_client

SECRET = "test-webhook-secret"
EVENT = {"id": 7, "type": "case.created", "case_id": "440800-20261124-0001"}


def test_a_fresh_signature_verifies_and_an_old_one_is_refused() -> None:
    body, headers = signed_request(SECRET, EVENT)
    assert verify_webhook(SECRET, body, headers["X-Signature"])
    now = time.time()
    old = signature_header(SECRET, body, int(now) - TOLERANCE_S - 1)
    assert not verify_webhook(SECRET, body, old, now=now)
    assert verify_webhook(SECRET, body, signature_header(SECRET, body, int(now) - TOLERANCE_S + 5), now=now)
    assert not verify_webhook(SECRET, body, signature_header(SECRET, body, int(now) + TOLERANCE_S + 60), now=now)


def test_the_time_cannot_be_changed_nor_the_body() -> None:
    body, headers = signed_request(SECRET, EVENT, timestamp=1_700_000_000)
    digest = headers["X-Signature"].split("v1=")[1]
    redated = f"t={int(time.time())},v1={digest}"
    assert not verify_webhook(SECRET, body, redated)
    fresh = signature_header(SECRET, body)
    assert not verify_webhook(SECRET, body.replace(b"created", b"deleted"), fresh)
    for header in (None, "", "sha256=" + digest, "t=abc,v1=" + digest, f"t={'9' * 20},v1={digest}"):
        assert not verify_webhook(SECRET, body, header)


def test_delivered_requests_carry_a_current_timestamped_signature(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    def respond(_path: str, _headers: Dict[str, str], _raw: bytes) -> Tuple[int, Dict[str, Any]]:
        return 200, {}

    receiver = receivers(respond)
    settings = make_settings(tmp_path, webhook_urls=(f"{receiver.url}/hook",), webhook_poll_s=0.02)
    with staff_client(build_app(settings)) as client:
        client.post("/cases", json=application(CHEN), headers=new_key())
        [(_, headers, raw)] = receiver.wait_for(1)
    assert verify_webhook(SECRET, raw, headers["X-Signature"])
    assert json.loads(raw)["type"] == "case.created"


def test_deliveries_in_back_off_do_not_starve_new_ones(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, webhook_urls=("http://127.0.0.1:9/none",))
    with staff_client(build_app(settings)) as client:
        for _ in range(3):
            client.post("/cases", json=application(CHEN), headers=new_key())
    engine = make_engine(settings.case_database_url)
    sessions = make_session_factory(engine)
    now = dt.datetime(2030, 1, 1)
    with session_scope(sessions) as session:
        rows = session.query(WebhookDelivery).order_by(WebhookDelivery.id).all()
        for row in rows[:-1]:  # all but the newest wait out a long back-off
            row.next_attempt_at, row.attempts = now + dt.timedelta(hours=1), 3
        rows[-1].next_attempt_at = now
        newest = rows[-1].id
    with session_scope(sessions) as session:
        assert due_deliveries(session=session, now=now, limit=1) == [newest]
    engine.dispose()
