"""How the project's clients authenticate to Rasa's HTTP API without a secret in the URL.

Rasa 3.6 takes its API token only as a query parameter (`?token=`, `rasa/server.py`
`requires_auth`), and query strings end up in client and access logs. It also accepts a JWT in
`Authorization: Bearer` when started with `--jwt-secret` (sanic-jwt, HS256): the services start
Rasa with `RASA_AUTH_TOKEN` as both, and the clients send a short-lived admin JWT signed with
it, so the secret itself never travels. (`?token=` still works, for an operator's curl.)
"""

from __future__ import annotations

import time
from typing import Dict

import jwt

JWT_METHOD = "HS256"
LIFETIME_S = 300


def rasa_api_headers(secret: str, subject: str = "assistant") -> Dict[str, str]:
    """`Authorization: Bearer <JWT>` with Rasa's admin role, valid for five minutes."""
    now = int(time.time())
    claims = {"user": {"username": subject, "role": "admin"}, "iat": now, "exp": now + LIFETIME_S}
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm=JWT_METHOD)}
