"""Data functions of the case service: create, find, move, verify and update cases.

Each takes a keyword-only `session` opened by the caller (a route) and never commits: the
route commits once, so a change, its event and its webhook deliveries land together.
`create_case` is the exception that proves the rule only in one respect: on a unique-key
race it rolls the session back and tries again, which is safe because creating the case is
the only work in that session.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases import clocks, events
from cases.context import CaseContext
from cases.errors import ApiError, invalid, not_found, problem
from cases.models import ITEM_LINKED, ITEM_PENDING, Case, CaseItem, StageActor, StageEntry
from cases.processes import Choice, NoProcess
from cases.registry import RegistryUnavailable
from cases.schemas import LINKED_STATUSES, PENDING_STATUSES, CaseCreate
from cases.workdays import Deadline, add_working_days
from common.address import ADDRESS_OUTSIDE, Address, AddressError, check_address
from common.identity import IdNumberError, normalize_mobile, parse_id_number

logger = logging.getLogger(__name__)

MAX_SEQUENCE = 9999
CREATE_RETRIES = 8
_CASE_ID = re.compile(r"^(\d{6})(\d{8})(\d{4})$")

PENDING_PROPERTY = "property_online_approval"
PENDING_IDENTITY = "identity_review"
NOTE_PROPERTY = (
    "电子证照库未查到该地址的产权证明：可经村（居）委会线上审批（湛江平均4.5个工作日，来源：广东电网 000），不影响受理"
)
NOTE_IDENTITY = "电子证照库未核验到该身份：工作人员将人工核验，不影响受理"
NOTE_REGISTRY_DOWN = "电子证照库暂时无法查询：工作人员将人工核验，不影响受理"


@dataclass(frozen=True)
class Application:
    """A `POST /cases` body after the server-side checks."""

    body: CaseCreate
    id_number: str
    phone: str
    address: Address


@dataclass(frozen=True)
class Documents:
    identity: str
    property: str
    pending: Tuple[Tuple[str, str], ...]  # (kind, note)


def normalize_case_id(text: str) -> Optional[str]:
    """`440800-20261124-0001` from the id with or without hyphens; None when malformed."""
    match = _CASE_ID.match(re.sub(r"[\s\-]", "", text or ""))
    return "-".join(match.groups()) if match else None


def check_application(body: CaseCreate, *, ctx: CaseContext) -> Application:
    """Checks ID number, mobile and address; raises a 422 listing every failure."""
    problems: List[Dict[str, str]] = []
    id_number = phone = None
    address = None
    try:
        id_number = parse_id_number(body.id_number, today=ctx.today_in_china()).value
    except IdNumberError as exc:
        problems.append(problem("id_number", exc.problem))
    phone = normalize_mobile(body.phone)
    if phone is None:
        problems.append(problem("phone", "format"))
    try:
        address = check_address(body.address, ctx.settings.service_area)
    except AddressError as exc:
        problems.append(problem("address", exc.problem))
    if problems or id_number is None or phone is None or address is None:
        raise invalid(problems)
    return Application(body=body, id_number=id_number, phone=phone, address=address)


def choose_process(address: Address, customer_type: str, capacity_kw: float, *, ctx: CaseContext) -> Choice:
    try:
        return ctx.catalog.choose(address, customer_type, capacity_kw)
    except NoProcess as exc:
        raise invalid([problem("address", ADDRESS_OUTSIDE)]) from exc


def deadline_for(choice: Choice, start: dt.date, *, ctx: CaseContext) -> Deadline:
    return add_working_days(start, choice.process.time_limit_working_days, ctx.holidays)


def request_fingerprints(body: CaseCreate, *, ctx: CaseContext) -> List[str]:
    """Keyed digests of the body, to tell a replay from a different request under one key.

    One per fingerprint key, the current one first: a replay after a key rotation still matches.
    """
    canonical = json.dumps(json.loads(body.json()), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return ctx.cipher.fingerprints("case-request:" + canonical)


def find_by_idempotency_key(key: str, *, session: Session) -> Optional[Case]:
    return session.execute(select(Case).where(Case.idempotency_key == key)).scalar_one_or_none()


def replay(existing: Case, fingerprints: List[str]) -> Case:
    """The case made under this key, or 409 when the key was used for another body."""
    if not any(hmac.compare_digest(existing.request_fingerprint, known) for known in fingerprints):
        raise ApiError(409, "Idempotency-Key already used with a different request", case_id=existing.case_id)
    return existing


def check_documents(application: Application, *, ctx: CaseContext) -> Documents:
    """Asks the e-licence registry for the identity and the property certificate (never blocks)."""
    name, id_number = application.body.name, application.id_number
    try:
        identity_ok = ctx.registry.identity_matches(name, id_number)
        certificate = ctx.registry.property_certificate(id_number, application.address)
    except RegistryUnavailable:
        return Documents(
            "not_found",
            "pending_online_approval",
            ((PENDING_IDENTITY, NOTE_REGISTRY_DOWN), (PENDING_PROPERTY, NOTE_PROPERTY)),
        )
    pending: List[Tuple[str, str]] = []
    if not identity_ok:
        pending.append((PENDING_IDENTITY, NOTE_IDENTITY))
    if certificate is None:
        pending.append((PENDING_PROPERTY, NOTE_PROPERTY))
    return Documents(
        "verified" if identity_ok else "not_found",
        "verified" if certificate is not None else "pending_online_approval",
        tuple(pending),
    )


def _next_sequence(city_code: str, day: str, *, session: Session) -> int:
    current = session.execute(
        select(func.max(Case.seq)).where(Case.city_code == city_code, Case.day == day)
    ).scalar_one_or_none()
    return int(current or 0) + 1


def _new_case(
    application: Application, key: str, fingerprint: str, documents: Documents, seq: int, *, ctx: CaseContext
) -> Case:
    body, address, cipher = application.body, application.address, ctx.cipher
    now, day = ctx.now_naive(), ctx.today_in_china()
    choice = choose_process(address, body.customer_type, body.capacity_kw, ctx=ctx)
    deadline = deadline_for(choice, day, ctx=ctx)
    stages = choice.process.stage_dicts()
    confirmed = body.consent.confirmed_at
    if confirmed.tzinfo is not None:
        confirmed = confirmed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    case = Case(
        case_id=f"{address.city_code}-{day:%Y%m%d}-{seq:04d}",
        city_code=address.city_code,
        day=f"{day:%Y%m%d}",
        seq=seq,
        idempotency_key=key,
        request_fingerprint=fingerprint,
        status="open",
        stage=stages[0]["key"],
        stages=stages,
        process=choice.process_dict(),
        deadline=deadline.day,
        deadline_basis=deadline.basis,
        zero_investment=choice.zero_investment,
        customer_type=choice.customer_type,
        requested_customer_type=body.customer_type,
        capacity_kw=float(body.capacity_kw),
        name_enc=cipher.encrypt(body.name),
        id_number_enc=cipher.encrypt(application.id_number),
        id_fingerprint=cipher.fingerprint(application.id_number),
        phone_enc=cipher.encrypt(application.phone),
        province=address.province,
        city=address.city,
        district=address.district,
        address_detail=address.detail,
        area_code=address.area_code,
        address_text=address.display(),
        channel=body.channel,
        sender_id=body.sender_id,
        locale=body.locale,
        identity_document=documents.identity,
        property_document=documents.property,
        consent_confirmed_at=confirmed,
        registry_consent=body.consent.registry,
        esign_consent=body.consent.esign,
        created_at=now,
        updated_at=now,
    )
    case.history.append(StageEntry(stage=case.stage, at=now, note=None))
    for kind, note in documents.pending:
        case.items.append(CaseItem(item_group=ITEM_PENDING, kind=kind, status="pending", note=note, updated_at=now))
    for kind in body.linked:
        case.items.append(CaseItem(item_group=ITEM_LINKED, kind=kind, status="submitted", note=None, updated_at=now))
    return case


def create_case(application: Application, key: str, *, session: Session, ctx: CaseContext) -> Tuple[Case, bool]:
    """Creates the case (flushed, not committed), or returns the one `key` made: (case, replayed).

    Two requests racing with one key both pass the first look-up; the second insert then
    fails on the key's unique constraint and this returns the winner's case. A race for the
    day's sequence number is retried with the next number.
    """
    fingerprints = request_fingerprints(application.body, ctx=ctx)
    existing = find_by_idempotency_key(key, session=session)
    if existing is not None:
        return replay(existing, fingerprints), True
    documents = check_documents(application, ctx=ctx)
    city_code, day = application.address.city_code, f"{ctx.today_in_china():%Y%m%d}"
    for _ in range(CREATE_RETRIES):
        seq = _next_sequence(city_code, day, session=session)
        if seq > MAX_SEQUENCE:
            raise ApiError(503, "no case numbers left for this city today; please try again tomorrow")
        case = _new_case(application, key, fingerprints[0], documents, seq, ctx=ctx)
        session.add(case)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            existing = find_by_idempotency_key(key, session=session)
            if existing is not None:
                return replay(existing, fingerprints), True
            continue
        clocks.set_clock(case, case.created_at, session=session, ctx=ctx)
        events.record_event(events.CASE_CREATED, case, session=session, webhook_urls=ctx.settings.webhook_urls)
        logger.info("case %s created (%s)", case.case_id, case.process["key"])
        return case, False
    raise ApiError(503, "the case could not be numbered; please retry with the same Idempotency-Key")


def get_case(case_id: str, *, session: Session) -> Case:
    """The case by id (with or without hyphens), or 404."""
    normalized = normalize_case_id(case_id)
    case = None
    if normalized:
        case = session.execute(select(Case).where(Case.case_id == normalized)).scalar_one_or_none()
    if case is None:
        raise not_found()
    return case


def cases_of(channel: str, sender_id: str, *, session: Session, limit: int = 50) -> List[Case]:
    """A channel sender's cases, newest first."""
    rows = session.execute(
        select(Case)
        .where(Case.channel == channel, Case.sender_id == sender_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(rows.scalars().all())


def next_stages(case: Case) -> List[str]:
    """The one stage a case may move to next; empty once completed."""
    keys = [stage["key"] for stage in case.stages]
    index = keys.index(case.stage) if case.stage in keys else len(keys) - 1
    return keys[index + 1 : index + 2] if case.status != "completed" else []


def move_case(
    case: Case, to_stage: str, note: Optional[str], *, session: Session, ctx: CaseContext, actor: Optional[str] = None
) -> Case:
    """Moves the case to its next stage; 422 for a stage the process lacks, 409 for any other.

    `actor` is the staff member who moved it (kept with the history entry); the stage's
    time-limit clock starts again (`cases.clocks`).
    """
    keys = [stage["key"] for stage in case.stages]
    if to_stage not in keys:
        raise invalid([problem("to_stage", "unknown_stage")], error=f"unknown stage for process {case.process['key']}")
    allowed = next_stages(case)
    if to_stage not in allowed:
        raise ApiError(409, "only the next stage is allowed", next_stages=allowed)
    previous = case.stage
    now = ctx.now_naive()
    status = "completed" if to_stage == keys[-1] else "open"
    # Compare-and-set on the stage: of two staff moving the case at once, one wins, one gets 409.
    moved = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.stage == previous, Case.status == "open")
        .values(stage=to_stage, status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        session.rollback()
        session.refresh(case)
        raise ApiError(409, "the case was moved meanwhile", next_stages=next_stages(case))
    case.stage, case.status, case.updated_at = to_stage, status, now
    entry = StageEntry(stage=to_stage, at=now, note=note)
    if actor:
        entry.actor_row = StageActor(actor=actor)
    case.history.append(entry)
    clocks.set_clock(case, now, session=session, ctx=ctx)
    events.record_event(
        events.STAGE_CHANGED, case, session=session, webhook_urls=ctx.settings.webhook_urls,
        previous_stage=previous, note=note,
    )
    logger.info("case %s moved %s -> %s%s", case.case_id, previous, to_stage, f" by {actor}" if actor else "")
    return case


def update_item(
    case: Case, item_id: int, status: str, note: Optional[str], *, session: Session, ctx: CaseContext
) -> CaseItem:
    """Updates a linked water/gas application (or a pending item) of the case."""
    item = next((item for item in case.items if item.id == item_id), None)
    if item is None:
        raise not_found("item")
    allowed = LINKED_STATUSES if item.item_group == ITEM_LINKED else PENDING_STATUSES
    if status not in allowed:
        raise invalid([problem("status", "must be one of " + ", ".join(allowed))])
    now = ctx.now_naive()
    item.status, item.updated_at = status, now
    if note is not None:
        item.note = note
    case.updated_at = now
    session.flush()
    events.record_event(
        events.ITEM_UPDATED, case, session=session, webhook_urls=ctx.settings.webhook_urls, note=note, item=item
    )
    logger.info("case %s item %d -> %s", case.case_id, item.id, status)
    return item


def preview(address_text: str, customer_type: str, capacity_kw: float, *, ctx: CaseContext) -> Dict[str, Any]:
    """What a new case would get: process, stages, deadline, zero investment (for the chat form)."""
    try:
        address = check_address(address_text, ctx.settings.service_area)
    except AddressError as exc:
        raise invalid([problem("address", exc.problem)]) from exc
    choice = choose_process(address, customer_type, capacity_kw, ctx=ctx)
    deadline = deadline_for(choice, ctx.today_in_china(), ctx=ctx)
    return {
        "process": choice.process_dict(),
        "stages": choice.process.stage_dicts(),
        "deadline": deadline.day.isoformat(),
        "deadline_basis": deadline.basis,
        "zero_investment": choice.zero_investment,
        "voltage": choice.voltage,
        "customer_type": choice.customer_type,
        "low_voltage_max_kw": choice.low_voltage_max_kw,
    }
