"""Submitting turns whose reply may never have reached the resident, and their recovery.

When the gateway dies while Rasa runs a turn (`kill -9`, out of memory), Rasa finishes the
turn, but its reply has no connection to go back on. For most turns the resident just asks
again; for the submitting turn (the reply to the summary's confirmation) it would lose the
receipt of a case that was created. So that turn is written down before it is sent to Rasa
and crossed out when its reply is in hand. At start-up the gateway looks for turns left
written down, waits until Rasa has surely finished them (`RASA_TIMEOUT_S` after they began),
reads the bot's messages of that turn from the tracker and sends them through the outbox
(web: `GET /updates`; Telegram: the delivery worker), once each (dedupe keys).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, List

from sqlalchemy import Column, Float, Integer, String, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_client import RasaClient
from common import outbox
from common.db import Base, session_scope

logger = logging.getLogger(__name__)


class TurnInFlight(Base):
    __tablename__ = "turns_in_flight"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    started_at = Column(Float, nullable=False)  # epoch seconds, as Rasa's event timestamps


def begin(sender_id: str, channel: str, *, session: Session) -> int:
    row = TurnInFlight(sender_id=sender_id, channel=channel, started_at=time.time())
    session.add(row)
    session.flush()
    return int(row.id)


def end(turn_id: int, *, session: Session) -> None:
    session.execute(delete(TurnInFlight).where(TurnInFlight.id == turn_id))


def bot_messages(events: List[Dict[str, Any]], since: float) -> List[Dict[str, Any]]:
    """The bot's messages of a turn, from tracker events, as Rasa's REST channel gives them."""
    items = []
    for event in events:
        if event.get("event") != "bot" or float(event.get("timestamp") or 0) < since:
            continue
        data = event.get("data") or {}
        item: Dict[str, Any] = {"text": event.get("text") or "", "buttons": data.get("buttons") or []}
        if data.get("image"):
            item["image"] = data["image"]
        if data.get("custom") is not None:
            item["custom"] = data["custom"]
        items.append(item)
    return items


async def recover(rasa: RasaClient, sessions: sessionmaker, settle_s: float) -> int:
    """Delivers the replies of turns left in flight by a previous run; returns how many turns.

    Keeps a turn while Rasa cannot be read, and tries again (every few seconds, a minute)."""
    from bot.chat import from_rasa  # bot.chat uses this module

    with session_scope(sessions) as session:
        turns = [(t.id, t.sender_id, t.channel, t.started_at) for t in session.execute(select(TurnInFlight)).scalars()]
    recovered = 0
    for turn_id, sender_id, channel, started_at in turns:
        await asyncio.sleep(max(0.0, started_at + settle_s - time.time()))
        for _attempt in range(12):
            events = await rasa.events(sender_id)
            if events is not None:
                break
            await asyncio.sleep(5.0)
        else:
            logger.warning("turn in flight of %s kept: Rasa unreadable", sender_id)
            continue
        messages = from_rasa(bot_messages(events, started_at))
        with session_scope(sessions) as session:
            for n, message in enumerate(messages):
                outbox.enqueue(sender_id, channel, "recovered", message, f"turn:{turn_id}:{n}", session=session)
            end(turn_id, session=session)
        logger.warning("reply of an interrupted submitting turn of %s sent through the outbox (%d message(s))",
                       sender_id, len(messages))
        recovered += 1
    return recovered
