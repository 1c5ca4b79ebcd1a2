"""Who is calling the case API: one key per client, each with a role.

`CASE_API_KEYS` lists `role:key` items, comma-separated, e.g.
`actions:<key>,gateway:<key>,staff:<key>`. A role may hold several keys (two staff tools, or
the old and the new key during a rotation); removing an item revokes that key at the next
start. Every route but `/healthz` needs a listed key in `X-Api-Key` (401 otherwise, compared
in constant time); a route open to some roles only answers 403 to the others.

What each role may do (and see, `cases/views.py`):
- `actions` (the action server): create cases, list a sender's cases, read one case, the
  process preview, the status check's one-time codes; sees cases without `sender_id`, staff
  notes or registry results.
- `gateway` (status page, Telegram deep links, notifier): read one case (same redacted view),
  the one-time codes, and the event feed, which for it keeps `channel`, `sender_id` and the
  notes: the notifier maps cases to the senders it tells, and the notes are what staff wrote
  for the resident. Nothing else carries `sender_id` outside staff.
- `staff` (staff tools): everything, including transitions and item updates, full views.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from fastapi import Header, Request

from cases.errors import ApiError
from common.secret_rules import role_keys
from common.settings import Settings

ACTIONS, GATEWAY, STAFF = "actions", "gateway", "staff"


@dataclass(frozen=True)
class Caller:
    """The client a request came from; `staff_user` the staff member the gateway acts for
    (its staff console sends `X-Staff-User` for the member logged in there)."""

    role: str
    staff_user: Optional[str] = None

    @property
    def is_staff(self) -> bool:
        """Staff tools, or the gateway acting for a staff member logged in to its console."""
        return self.role == STAFF or (self.role == GATEWAY and bool(self.staff_user))


class KeyRing:
    """The configured client keys, looked up in constant time per key."""

    def __init__(self, keys: Dict[str, List[str]]):
        self._keys = [(role, key.encode()) for role, items in keys.items() for key in items]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls(role_keys(settings.secret("CASE_API_KEYS")))

    def role_of(self, given: Optional[str]) -> Optional[str]:
        if not given:
            return None
        raw = given.encode("utf-8", "replace")
        found = None
        for role, key in self._keys:
            if hmac.compare_digest(raw, key):
                found = role  # no early exit: the time does not tell which item matched
        return found


def caller(request: Request, x_api_key: Optional[str] = Header(None, description="Client key")) -> Caller:
    """The calling client; 401 for a missing or unknown key."""
    role = request.app.state.keys.role_of(x_api_key)
    if role is None:
        raise ApiError(401, "missing or unknown X-Api-Key", headers={"WWW-Authenticate": "ApiKey"})
    return Caller(role)


def allow(*roles: str) -> Callable[..., Caller]:
    """A dependency admitting only `roles` (401 without a key, 403 for another role).

    `X-Staff-User` names the staff member: from the gateway (its console logs staff in) it makes
    the request a staff request; from a staff tool it names who acts; from any other client it
    is ignored.
    """

    def _check(
        request: Request,
        x_api_key: Optional[str] = Header(None, description="Client key"),
        x_staff_user: Optional[str] = Header(
            None, max_length=64, description="The staff member the gateway's console acts for"
        ),
    ) -> Caller:
        who = caller(request, x_api_key)
        if who.role in (GATEWAY, STAFF) and x_staff_user and x_staff_user.strip():
            who = Caller(who.role, x_staff_user.strip())
        if who.role not in roles:
            raise ApiError(403, f"this key's role ({who.role}) may not do this")
        return who

    return _check


def staff_only(who: Caller) -> Caller:
    """403 unless `who` is staff (a staff tool, or the gateway for a logged-in staff member)."""
    if not who.is_staff:
        raise ApiError(403, "staff only: a staff key, or the gateway with X-Staff-User")
    return who
