"""Staff accounts and a staff API client for the end-to-end tests of the hand-off."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, Optional

import httpx

from common.settings import ROOT
from tools.services import Stack

PASSWORD = "e2e staff password"


def add_staff(stack: Stack, username: str, role: str = "agent") -> None:
    """Creates the account in the stack's gateway database with `tools.staff add` (password on stdin)."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.staff", "add", username, "--role", role], input=PASSWORD + "\n",
        text=True, capture_output=True, env=stack.env(), cwd=ROOT, check=False,
    )
    assert done.returncode == 0, done.stderr


class StaffClient:
    """One staff member's session on the staff API (own cookie jar)."""

    def __init__(self, base_url: str, username: str):
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        response = self.http.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    def get(self, path: str, **params: Any) -> Dict[str, Any]:
        response = self.http.get(f"/staff/api{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Optional[Dict[str, Any]] = None, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.http.post(f"/staff/api{path}", json=body, headers=headers)

    def handoff_of(self, sender_id: str, state: str = "waiting") -> Dict[str, Any]:
        found = [h for h in self.get("/handoffs", state=state)["handoffs"] if h["sender_id"] == sender_id]
        assert found, f"no {state} hand-off of {sender_id}"
        return found[0]

    def close(self) -> None:
        self.http.close()
