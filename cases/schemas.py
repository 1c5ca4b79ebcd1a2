"""Request bodies of the case API (pydantic 1.10, Rasa's pin) and the fixed value sets.

Shapes and limits only; the business checks (GB 11643 ID, mobile number, address in the
service area) are in `cases.crud`, which reports them in the same `problems` format.
Responses are plain dicts built by `cases.views`, documented in cases/README.md.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import List, Literal, Optional

from pydantic import BaseModel, Field, StrictBool, confloat, constr, validator

CUSTOMER_TYPES = ("resident", "lv_business", "hv")
LOCALES = ("zh_Hans", "zh_Hant", "en")
LINKED_KINDS = ("water", "gas")
LINKED_STATUSES = ("submitted", "accepted", "in_progress", "done", "cancelled")
PENDING_STATUSES = ("pending", "done")
# Largest id a query may name: row ids are 64-bit in every database, and a bigger number
# must be a 422, not an overflow in the driver.
MAX_ID = 2**62
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
# A staff member's id as the gateway passes it: 1-64 characters of A-Za-z0-9_.:@-
STAFF_USER = r"^[A-Za-z0-9_.:@\-]{1,64}$"

CustomerType = Literal["resident", "lv_business", "hv"]
Locale = Literal["zh_Hans", "zh_Hant", "en"]
LinkedKind = Literal["water", "gas"]


class Consent(BaseModel):
    """The resident's consents, confirmed in the chat form before submission."""

    registry: StrictBool = Field(..., description="Consent to fetch documents from the e-licence registry")
    esign: StrictBool = Field(..., description="Consent to sign electronically")
    confirmed_at: dt.datetime

    @validator("registry", "esign")
    def must_be_given(cls, value: bool) -> bool:  # noqa: N805 - pydantic validators take cls
        if value is not True:
            raise ValueError("consent is required")
        return value


class CaseCreate(BaseModel):
    """`POST /cases` body."""

    name: constr(strip_whitespace=True, min_length=1, max_length=50)  # type: ignore[valid-type]
    id_number: constr(strip_whitespace=True, min_length=1, max_length=40)  # type: ignore[valid-type]
    phone: constr(strip_whitespace=True, min_length=1, max_length=32)  # type: ignore[valid-type]
    address: constr(strip_whitespace=True, min_length=1, max_length=200)  # type: ignore[valid-type]
    customer_type: CustomerType
    capacity_kw: confloat(gt=0, le=100000)  # type: ignore[valid-type]
    channel: constr(strip_whitespace=True, min_length=1, max_length=16)  # type: ignore[valid-type]
    sender_id: constr(strip_whitespace=True, min_length=1, max_length=128)  # type: ignore[valid-type]
    locale: Locale = "zh_Hans"
    consent: Consent
    linked: List[LinkedKind] = Field(default_factory=list, max_items=2)

    @validator("linked")
    def unique_kinds(cls, value: List[str]) -> List[str]:  # noqa: N805
        if len(set(value)) != len(value):
            raise ValueError("each kind at most once")
        return value

    @validator("capacity_kw")
    def finite(cls, value: float) -> float:  # noqa: N805
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value


class TransitionCreate(BaseModel):
    """`POST /cases/{case_id}/transitions` body."""

    to_stage: constr(strip_whitespace=True, min_length=1, max_length=64)  # type: ignore[valid-type]
    note: Optional[constr(max_length=1000)] = None  # type: ignore[valid-type]
    # The staff member moving the case (or header `X-Staff-User`); kept in the history.
    actor: Optional[constr(strip_whitespace=True, regex=STAFF_USER)] = None  # type: ignore[valid-type]


REQUESTER = r"^[A-Za-z0-9_.:@\-]{1,160}$"


class CodeRequest(BaseModel):
    """`POST /cases/{case_id}/codes` body: who asks (`<channel>:<sender id>`), to be sent a code."""

    requester: constr(strict=True, regex=REQUESTER)  # type: ignore[valid-type]


class VerifyRequest(BaseModel):
    """`POST /cases/{case_id}/verify` body: the code the requester was sent."""

    requester: constr(strict=True, regex=REQUESTER)  # type: ignore[valid-type]
    code: constr(strict=True, strip_whitespace=True, regex=r"^[0-9]{6}$")  # type: ignore[valid-type]


class ItemUpdate(BaseModel):
    """`PATCH /cases/{case_id}/items/{item_id}` body."""

    status: constr(strip_whitespace=True, min_length=1, max_length=16)  # type: ignore[valid-type]
    note: Optional[constr(max_length=1000)] = None  # type: ignore[valid-type]
