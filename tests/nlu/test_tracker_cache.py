"""The tracker store's in-memory sessions give Rasa exactly what its own store would, with
two Rasa servers sharing one database, new sessions, evictions and unseen writers
(`nlu/tracker_store.py`), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from typing import Any, Dict, List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.tracker_store import EncryptedSQLTrackerStore

DOMAIN = Domain.from_dict(
    {"intents": ["ask", "inform"], "slots": {"name": {"type": "text", "mappings": [{"type": "custom"}]}}}
)


def _store(url: str, monkeypatch: pytest.MonkeyPatch, cache: int) -> EncryptedSQLTrackerStore:
    monkeypatch.setenv("RASA_TRACKER_CACHE_SIZE", str(cache))
    return EncryptedSQLTrackerStore(domain=DOMAIN, sql_url=url)


def _with_reference(url: str, monkeypatch: pytest.MonkeyPatch, cache: int = 10) -> Tuple[EncryptedSQLTrackerStore, ...]:
    """A caching store and Rasa's own reads and writes (no cache) on the same database."""
    return _store(url, monkeypatch, cache), _store(url, monkeypatch, 0)


def _events(tracker: DialogueStateTracker | None) -> List[Dict[str, Any]]:
    if tracker is None:
        return []
    return [e.as_dict() for e in tracker.events]


def _turn(rng: random.Random, n: int, start_session: bool) -> List[Event]:
    events: List[Event] = []
    if start_session:
        events += [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    events += [
        UserUttered(f"问题 {n}", {"name": rng.choice(["ask", "inform"]), "confidence": 0.9}),
        SlotSet("name", f"张{n}"),
        ActionExecuted("action_answer"),
        BotUttered(f"回答 {n}"),
        ActionExecuted("action_listen"),
    ]
    return events


def _play(tracker: DialogueStateTracker, rng: random.Random, n: int, start_session: bool,
          store: EncryptedSQLTrackerStore | None = None) -> DialogueStateTracker:
    """Turn `n` applied to `tracker`, and saved to `store` when one is given."""
    for event in _turn(rng, n, start_session=start_session):
        tracker.update(event)
    if store is not None:
        asyncio.run(store.save(tracker))
    return tracker


def test_two_servers_alternating_see_what_rasas_own_store_sees(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = [_store(database_url, monkeypatch, 100), _store(database_url, monkeypatch, 100)]
    reference = _store(database_url, monkeypatch, 0)  # Rasa's own reads and writes
    rng = random.Random(7)
    senders = [f"web:{i}" for i in range(3)]
    for n in range(40):
        sender = rng.choice(senders)
        server = rng.choice(servers)
        tracker = asyncio.run(server.retrieve(sender)) or DialogueStateTracker(sender, DOMAIN.slots)
        assert _events(tracker) == _events(asyncio.run(reference.retrieve(sender))) or not tracker.events
        _play(tracker, rng, n, start_session=(n % 11 == 0 or not tracker.events), store=server)
    for sender in senders:
        expected = _events(asyncio.run(reference.retrieve(sender)))
        assert expected, sender
        for server in servers:
            assert _events(asyncio.run(server.retrieve(sender))) == expected


def test_a_new_session_hides_the_old_one_as_rasa_does(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store, reference = _with_reference(database_url, monkeypatch)
    rng = random.Random(1)
    tracker = DialogueStateTracker("web:s", DOMAIN.slots)
    _play(tracker, rng, 1, start_session=True, store=store)
    tracker = asyncio.run(store.retrieve("web:s"))
    _play(tracker, rng, 2, start_session=True, store=store)  # a second session within the same tracker
    ours, rasas = asyncio.run(store.retrieve("web:s")), asyncio.run(reference.retrieve("web:s"))
    assert _events(ours) == _events(rasas)
    assert [e["event"] for e in _events(ours)].count("session_started") == 1
    assert ours.get_slot("name") == "张2"


def test_a_writer_it_did_not_see_is_read_before_saving(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save after another server wrote (no read in between) reloads instead of counting."""
    first, second = _store(database_url, monkeypatch, 10), _store(database_url, monkeypatch, 10)
    reference = _store(database_url, monkeypatch, 0)
    rng = random.Random(2)
    tracker = DialogueStateTracker("web:w", DOMAIN.slots)
    _play(tracker, rng, 1, start_session=True, store=first)
    asyncio.run(first.retrieve("web:w"))  # cached by the first server
    other = asyncio.run(second.retrieve("web:w"))
    _play(other, rng, 2, start_session=False, store=second)
    _play(other, rng, 3, start_session=False, store=first)  # the first server's tracker is complete too
    assert _events(asyncio.run(first.retrieve("web:w"))) == _events(asyncio.run(reference.retrieve("web:w")))
    assert len(_events(asyncio.run(reference.retrieve("web:w")))) == len(other.events)


def test_evicted_conversations_are_read_again(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store, reference = _with_reference(database_url, monkeypatch, cache=2)
    rng = random.Random(3)
    for n in range(5):
        tracker = DialogueStateTracker(f"web:e{n}", DOMAIN.slots)
        _play(tracker, rng, n, start_session=True, store=store)
    assert len(store._sessions) == 2
    for n in range(5):
        sender = f"web:e{n}"
        assert _events(asyncio.run(store.retrieve(sender))) == _events(asyncio.run(reference.retrieve(sender)))
    assert asyncio.run(store.retrieve("web:nobody")) is None


def test_a_turn_that_is_not_saved_leaves_no_trace_in_the_next_read(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed events are kept between reads (each row parsed once): a tracker a failed turn
    changed but never saved must not reach the next read through them."""
    store, reference = _with_reference(database_url, monkeypatch)
    rng = random.Random(3)
    tracker = DialogueStateTracker("web:u", DOMAIN.slots)
    _play(tracker, rng, 1, start_session=True, store=store)
    read = asyncio.run(store.retrieve("web:u"))
    _play(read, rng, 2, start_session=False)  # the turn fails before its save
    assert read.get_slot("name") == "张2"
    again = asyncio.run(store.retrieve("web:u"))
    assert again is not read and again.get_slot("name") == "张1"
    assert _events(again) == _events(asyncio.run(reference.retrieve("web:u")))
    assert [e for e in again.events if isinstance(e, UserUttered)][-1].text == "问题 1"
