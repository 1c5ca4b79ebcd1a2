"""Loads the knowledge files into typed models and into the database, at start-up.

A bad file fails with a `KnowledgeError` naming the file and the field, so a reviewer sees
at once which edit broke the knowledge base.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import List

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from knowledge import store
from knowledge.regions import Gazetteer
from knowledge.schema import Entry, TariffBook

logger = logging.getLogger(__name__)


class KnowledgeError(ValueError):
    """A knowledge file is missing, unreadable or does not match the schema."""


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: cannot read YAML: {exc}") from exc


def _describe(path: Path, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return f"{path}: {problems}"


def load_entry(path: Path) -> Entry:
    """Reads and validates one entry file; its id must equal the file name."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top level")
    try:
        entry = Entry.parse_obj(data)
    except ValidationError as exc:
        raise KnowledgeError(_describe(path, exc)) from exc
    if entry.id != path.stem:
        raise KnowledgeError(f"{path}: id: {entry.id!r} must equal the file name {path.stem!r}")
    return entry


def load_entries(knowledge_dir: Path) -> List[Entry]:
    """Reads every `entries/*.yml` file, sorted by name, and checks that ids are unique."""
    paths = sorted((knowledge_dir / "entries").glob("*.yml"))
    if not paths:
        raise KnowledgeError(f"{knowledge_dir / 'entries'}: no entry files")
    return [load_entry(p) for p in paths]


def check_regions(entries: List[Entry], gazetteer: Gazetteer) -> None:
    """Every answer names a region the gazetteer knows, at the level its `covers` says."""
    for entry in entries:
        for answer in entry.answers:
            level = gazetteer.level(answer.region)
            if level is None:
                raise KnowledgeError(f"entries/{entry.id}.yml: answers: unknown region {answer.region!r}")
            if level != answer.covers:
                raise KnowledgeError(
                    f"entries/{entry.id}.yml: answers: {answer.region} is a {level}, not covers: {answer.covers}"
                )


def load_tariffs(knowledge_dir: Path) -> TariffBook:
    """Reads `tariffs.yml`, the tables of the bill calculator."""
    path = knowledge_dir / "tariffs.yml"
    try:
        return TariffBook.parse_obj(_read_yaml(path))
    except ValidationError as exc:
        raise KnowledgeError(_describe(path, exc)) from exc


def content_hash(knowledge_dir: Path) -> str:
    """Hash of every entry file, to skip rewriting the database when nothing changed."""
    digest = hashlib.sha256()
    for path in sorted((knowledge_dir / "entries").glob("*.yml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def sync(knowledge_dir: Path, *, session: Session) -> List[Entry]:
    """Loads the files into the database when they changed, and returns the stored entries.

    The caller owns the transaction; the entries returned are read back from the database,
    which is what the assistant searches.
    """
    entries = load_entries(knowledge_dir)
    digest = content_hash(knowledge_dir)
    if store.stored_hash(session=session) != digest:
        count = store.replace_entries(entries, digest, session=session)
        session.flush()
        logger.info("knowledge base loaded into the database: %d entries", count)
    return store.read_entries(session=session)
