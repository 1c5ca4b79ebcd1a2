"""Tables of the case API, on their own declarative base.

`common.db.Base` holds the gateway's tables; the case service is a separate system (it
stands for the grid company's business system), so its tables live on their own metadata
and are created only in the cases database.

Personal data is stored encrypted (`*_enc`, Fernet tokens from `common.crypto.FieldCipher`);
the ID number also has a keyed fingerprint for look-ups. Nothing here stores a plain ID
number, phone or name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeMeta, registry, relationship

mapper_registry = registry()
Base: DeclarativeMeta = mapper_registry.generate_base()

# Item groups: a joint water/gas application (一次办) or something the case still needs.
ITEM_LINKED = "linked"
ITEM_PENDING = "pending"


def utcnow() -> dt.datetime:
    """Now in UTC, naive (SQLite keeps no time zone; every stored time is UTC)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("city_code", "day", "seq", name="uq_case_city_day_seq"),)

    id = Column(Integer, primary_key=True)
    case_id = Column(String(24), nullable=False, unique=True)
    city_code = Column(String(6), nullable=False)
    day = Column(String(8), nullable=False)
    seq = Column(Integer, nullable=False)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    request_fingerprint = Column(String(64), nullable=False)

    status = Column(String(16), nullable=False)
    stage = Column(String(64), nullable=False)
    stages: Any = Column(JSON, nullable=False)  # snapshot of the process's stages at creation
    process: Any = Column(JSON, nullable=False)  # the Case JSON's `process` object
    deadline = Column(Date, nullable=False)
    deadline_basis = Column(String(32), nullable=False)
    zero_investment = Column(Boolean, nullable=False)
    customer_type = Column(String(16), nullable=False)
    requested_customer_type = Column(String(16), nullable=False)
    capacity_kw = Column(Float, nullable=False)

    name_enc = Column(Text, nullable=False)
    id_number_enc = Column(Text, nullable=False)
    id_fingerprint = Column(String(64), nullable=False, index=True)
    phone_enc = Column(Text, nullable=False)

    province = Column(String(32), nullable=False)
    city = Column(String(32), nullable=False)
    district = Column(String(32), nullable=False)
    address_detail = Column(Text, nullable=False)
    area_code = Column(String(6), nullable=False)
    address_text = Column(Text, nullable=False)

    channel = Column(String(16), nullable=False)
    sender_id = Column(String(128), nullable=False)
    locale = Column(String(8), nullable=False)
    identity_document = Column(String(32), nullable=False)
    property_document = Column(String(32), nullable=False)
    consent_confirmed_at = Column(DateTime, nullable=False)
    registry_consent = Column(Boolean, nullable=False)
    esign_consent = Column(Boolean, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    history: List[StageEntry] = relationship(
        "StageEntry", order_by="StageEntry.id", cascade="all, delete-orphan", lazy="selectin"
    )
    items: List[CaseItem] = relationship(
        "CaseItem", order_by="CaseItem.id", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"eager_defaults": True}


Index("ix_cases_channel_sender", Case.channel, Case.sender_id)


class StageEntry(Base):
    """One step of a case's history: the stage it reached, when, and staff's note."""

    __tablename__ = "case_history"

    id = Column(Integer, primary_key=True)
    case_pk = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    stage = Column(String(64), nullable=False)
    at = Column(DateTime, nullable=False)
    note = Column(Text, nullable=True)
    # Who moved the case here (a staff member's id the gateway passes); None at creation.
    actor_row: Optional[StageActor] = relationship("StageActor", uselist=False, lazy="selectin")

    @property
    def actor(self) -> Optional[str]:
        return self.actor_row.actor if self.actor_row is not None else None


class StageActor(Base):
    """The staff member who made a transition (its own table, so older databases need no ALTER)."""

    __tablename__ = "case_history_actors"

    history_id = Column(Integer, ForeignKey("case_history.id", ondelete="CASCADE"), primary_key=True)
    actor = Column(String(64), nullable=False, index=True)


class CaseItem(Base):
    """A linked water/gas application, or a pending item (property approval, identity review)."""

    __tablename__ = "case_items"

    id = Column(Integer, primary_key=True)
    case_pk = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    item_group = Column(String(16), nullable=False)
    kind = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False)
    note = Column(Text, nullable=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class Event(Base):
    """A case event, written in the same transaction as the change; `id` is the feed's cursor."""

    __tablename__ = "events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    type = Column(String(32), nullable=False)
    case_id = Column(String(24), nullable=False, index=True)
    at = Column(DateTime, nullable=False)
    payload: Dict[str, Any] = Column(JSON, nullable=False)


class WebhookDelivery(Base):
    """The persistent queue: one row per event and URL until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "state", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("events.id"), nullable=False, index=True)
    url = Column(Text, nullable=False)
    state = Column(String(16), nullable=False, default="pending")  # pending | delivered | failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False)
    last_error = Column(Text, nullable=True)


class WebhookAttempt(Base):
    """One delivery attempt, kept for `GET /webhooks/deliveries`."""

    __tablename__ = "webhook_attempts"

    id = Column(Integer, primary_key=True)
    delivery_id = Column(Integer, ForeignKey("webhook_deliveries.id"), nullable=False)
    event_id = Column(Integer, nullable=False, index=True)
    url = Column(Text, nullable=False)
    attempt = Column(Integer, nullable=False)
    status_code = Column(Integer, nullable=True)
    error = Column(Text, nullable=True)
    at = Column(DateTime, nullable=False)


class RegistryPerson(Base):
    """The local e-licence registry's identities (fictional residents; see registry_seed.yml)."""

    __tablename__ = "registry_people"

    id = Column(Integer, primary_key=True)
    id_fingerprint = Column(String(64), nullable=False, unique=True)
    name_enc = Column(Text, nullable=False)


class RegistryProperty(Base):
    """The local registry's property certificates: owner (by ID fingerprint) and address."""

    __tablename__ = "registry_properties"
    __table_args__ = (UniqueConstraint("owner_fingerprint", "address_key", name="uq_registry_property"),)

    id = Column(Integer, primary_key=True)
    owner_fingerprint = Column(String(64), nullable=False, index=True)
    address_key = Column(Text, nullable=False)
    certificate_no = Column(String(64), nullable=False)


def create_tables(engine: Engine) -> None:
    """Creates the case service's tables (only these) in `engine`'s database."""
    Base.metadata.create_all(engine)


def optional_dt(value: Optional[dt.datetime]) -> Optional[str]:
    """A stored UTC time as ISO 8601 with its offset (`2026-11-24T02:03:04+00:00`)."""
    if value is None:
        return None
    return value.replace(microsecond=0, tzinfo=dt.timezone.utc).isoformat()
