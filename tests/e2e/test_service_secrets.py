"""Issue 9: Rasa's REST channel and the action server's /webhook take only callers with the
shared header secret (`X-Service-Secret`); the gateway and Rasa send it, so every other e2e
test passing through them shows the secret arrives. Attacker-style, against the running stack
(it lives here, not in tests/security, to share the session's services).

Before: anyone reaching Rasa's port could post as `tg:5001`; anyone reaching the action
server could run the actions on a made-up tracker."""

from __future__ import annotations

import httpx

from common.service_secret import SECRET_HEADER
from common.settings import DEV_SECRETS

SECRET = {SECRET_HEADER: DEV_SECRETS["SERVICE_CALL_SECRET"]}


def test_rasas_rest_channel_needs_the_service_secret(stack) -> None:  # noqa: ANN001
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    body = {"sender": "tg:5001", "message": "你好"}
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert httpx.post(url, json=body, headers={SECRET_HEADER: "wrong"}, timeout=30).status_code == 401
    allowed = httpx.post(url, json={"sender": "secret-check", "message": "你好"}, headers=SECRET, timeout=30)
    assert allowed.status_code == 200 and allowed.json()


def test_the_action_servers_webhook_needs_the_service_secret(stack) -> None:  # noqa: ANN001
    url = f"{stack.actions_url}/webhook"
    call = {"next_action": "action_no_such_action", "sender_id": "tg:5001", "version": "3.6.21",
            "tracker": {"sender_id": "tg:5001", "slots": {}, "latest_message": {}, "events": []}, "domain": {}}
    refused = httpx.post(url, json=call, timeout=30)
    assert refused.status_code == 401 and SECRET_HEADER in refused.json()["error"]
    assert httpx.post(url, json=call, headers={SECRET_HEADER: "wrong"}, timeout=30).status_code == 401
    assert httpx.post(url, json=call, headers=SECRET, timeout=30).status_code != 401  # reaches rasa_sdk
    assert httpx.get(f"{stack.actions_url}/healthz", timeout=30).status_code == 200  # health stays open
