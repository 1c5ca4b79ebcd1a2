"""Database tables of the knowledge base and the functions that write and read them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterable, List

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Session, relationship

from common.db import Base
from knowledge.schema import Answer, Entry, LocalizedText, Questions, Sourced


class EntryRow(Base):
    __tablename__ = "knowledge_entries"

    id = Column(String(64), primary_key=True)
    category = Column(String(32), nullable=False, index=True)
    scope = Column(String(16), nullable=False)
    title_zh_hans = Column(Text, nullable=False)
    title_zh_hant = Column(Text, nullable=False)
    title_en = Column(Text, nullable=False)
    position = Column(Integer, nullable=False)
    answers = relationship(
        "AnswerRow", cascade="all, delete-orphan", order_by="AnswerRow.id", lazy="selectin"
    )
    questions = relationship(
        "QuestionRow", cascade="all, delete-orphan", order_by="QuestionRow.id", lazy="selectin"
    )


class AnswerRow(Base):
    __tablename__ = "knowledge_answers"

    id = Column(Integer, primary_key=True, autoincrement=True)
    entry_id = Column(String(64), ForeignKey("knowledge_entries.id", ondelete="CASCADE"), index=True)
    region = Column(String(32), nullable=True)  # None for the general answer
    zh_hans = Column(Text, nullable=False)
    zh_hant = Column(Text, nullable=False)
    en = Column(Text, nullable=False)
    source = Column(Text, nullable=False)
    source_ref = Column(String(32), nullable=False)
    covers = Column(String(16), nullable=True)  # city | province | national; None for the general answer
    valid_from = Column(Date, nullable=True)  # None: the source gives no date (发布日期不详)
    verified = Column(Boolean, nullable=False)
    status = Column(String(16), nullable=False, default="in_force")  # in_force | target | past
    deadline = Column(Date, nullable=True)  # a target's deadline, where the source gives one
    period_json = Column(Text, nullable=True)  # a past answer's period, in the three locales


class QuestionRow(Base):
    __tablename__ = "knowledge_questions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    entry_id = Column(String(64), ForeignKey("knowledge_entries.id", ondelete="CASCADE"), index=True)
    locale = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)


class MetaRow(Base):
    __tablename__ = "knowledge_meta"

    key = Column(String(64), primary_key=True)
    value = Column(Text, nullable=False)
    updated_at = Column(String(32), nullable=False)


def _answer_row(answer: Sourced, region: str | None) -> AnswerRow:
    return AnswerRow(
        region=region,
        covers=getattr(answer, "covers", None),
        status=answer.status,
        deadline=answer.deadline,
        period_json=json.dumps(answer.period.dict(by_alias=True), ensure_ascii=False) if answer.period else None,
        zh_hans=answer.zh_Hans,
        zh_hant=answer.zh_Hant,
        en=answer.en,
        source=answer.source,
        source_ref=answer.source_ref,
        valid_from=answer.valid_from,
        verified=answer.verified,
    )


def stored_hash(*, session: Session) -> str | None:
    row = session.get(MetaRow, "content_hash")
    return row.value if row else None


def replace_entries(entries: Iterable[Entry], content_hash: str, *, session: Session) -> int:
    """Replaces every stored entry with `entries` in the caller's transaction."""
    session.execute(delete(QuestionRow))
    session.execute(delete(AnswerRow))
    session.execute(delete(EntryRow))
    count = 0
    for position, entry in enumerate(entries):
        row = EntryRow(
            id=entry.id,
            category=entry.category,
            scope=entry.scope,
            title_zh_hans=entry.title.zh_Hans,
            title_zh_hant=entry.title.zh_Hant,
            title_en=entry.title.en,
            position=position,
        )
        row.answers = [_answer_row(a, a.region) for a in entry.answers]
        if entry.general is not None:
            row.answers.append(_answer_row(entry.general, None))
        row.questions = [QuestionRow(locale="zh_Hans", text=q) for q in entry.questions.zh_Hans]
        row.questions += [QuestionRow(locale="en", text=q) for q in entry.questions.en]
        session.add(row)
        count += 1
    meta = session.get(MetaRow, "content_hash") or MetaRow(key="content_hash")
    meta.value = content_hash
    meta.updated_at = dt.datetime.now(dt.timezone.utc).isoformat()
    session.add(meta)
    return count


def read_entries(*, session: Session) -> List[Entry]:
    """Reads every entry back from the database as typed models, in file order."""
    entries: List[Entry] = []
    for row in session.execute(select(EntryRow).order_by(EntryRow.position)).scalars():
        regional = [a for a in row.answers if a.region is not None]
        general = next((a for a in row.answers if a.region is None), None)

        def texts(a: AnswerRow) -> dict:
            return {
                "zh-Hans": a.zh_hans,
                "zh-Hant": a.zh_hant,
                "en": a.en,
                "source": a.source,
                "source_ref": a.source_ref,
                "valid_from": a.valid_from,
                "verified": a.verified,
                "status": a.status,
                "deadline": a.deadline,
                "period": json.loads(a.period_json) if a.period_json else None,
            }

        entries.append(
            Entry(
                id=row.id,
                category=row.category,
                scope=row.scope,
                title=LocalizedText(
                    **{"zh-Hans": row.title_zh_hans, "zh-Hant": row.title_zh_hant, "en": row.title_en}
                ),
                questions=Questions(
                    **{
                        "zh-Hans": [q.text for q in row.questions if q.locale == "zh_Hans"],
                        "en": [q.text for q in row.questions if q.locale == "en"],
                    }
                ),
                answers=[Answer(region=a.region, covers=a.covers, **texts(a)) for a in regional],
                general=Sourced(**texts(general)) if general else None,
            )
        )
    return entries
