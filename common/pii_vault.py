"""Personal data kept out of Rasa: ID numbers and phones become opaque tokens at the gateway.

Before a resident's text goes to Rasa (as the NLU text and as the raw-text metadata), the
gateway replaces each ID number and mobile number in it, in any form the form accepts
(spaced, dashed, full-width), with a token such as `piiidqwertyuiopas` / `piiphqwertyuiopas`:
a kind and twelve random letters (letters only, so the NLU's digit handling does not touch
it and Jieba keeps it one word). The value typed is stored encrypted (`FieldCipher`, the
existing key) in the application database, bound to the sender. The actions, which share that
database, turn the tokens of the latest message back into what was typed
(`actions.context.raw_text_of`), so the form reads exactly what the resident wrote while
Rasa's tracker, its logs and its model only ever see tokens.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import string
from typing import List, Optional, Tuple

from sqlalchemy import Column, DateTime, String, Text, delete
from sqlalchemy.orm import Session

from common.crypto import DecryptionError, FieldCipher
from common.db import Base
from common.pii import find_ids, find_phones

logger = logging.getLogger(__name__)

REF_LETTERS = 12  # 26^12 ≈ 2^56, and a token only resolves for its own sender
# The actions resolve the tokens of the message being handled (the form seals what it keeps in
# its slots at once), so a value is needed for minutes; it is kept a day, then deleted.
KEPT = dt.timedelta(days=1)
PRUNE_ONE_IN = 200  # tokenisations that also delete expired values
TOKEN_RE = re.compile(rf"pii(id|ph)([a-z]{{{REF_LETTERS}}})")
KINDS = {"id": "id_number", "ph": "phone"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PiiValue(Base):
    __tablename__ = "pii_values"

    ref = Column(String(16), primary_key=True)
    sender_id = Column(String(128), nullable=False, index=True)
    kind = Column(String(8), nullable=False)
    sealed = Column(Text, nullable=False)  # the text as typed, Fernet-encrypted
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


def _spans(text: str) -> List[Tuple[int, int, str]]:
    """(start, end, kind) of every ID number and phone, ID numbers first where they overlap."""
    spans = [(start, end, "id") for start, end, _ in find_ids(text)]
    for start, end, _ in find_phones(text):
        if all(end <= s or start >= e for s, e, _ in spans):
            spans.append((start, end, "ph"))
    return sorted(spans)


def _new_ref() -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(REF_LETTERS))


def tokenize(text: str, sender_id: str, cipher: FieldCipher, *, session: Session) -> str:
    """`text` with each ID number and phone replaced by a token; the values stored sealed."""
    spans = _spans(text)
    if not spans:
        return text
    pieces, at = [], 0
    for start, end, kind in spans:
        ref = _new_ref()
        session.add(PiiValue(ref=ref, sender_id=sender_id, kind=kind, sealed=cipher.encrypt(text[start:end])))
        pieces += [text[at:start], f"pii{kind}{ref}"]
        at = end
    pieces.append(text[at:])
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        prune(session=session)
    return "".join(pieces)


def prune(*, session: Session, now: Optional[dt.datetime] = None) -> int:
    """Deletes values older than `KEPT`; returns how many."""
    cutoff = (now or _now()) - KEPT
    return session.execute(delete(PiiValue).where(PiiValue.created_at < cutoff)).rowcount or 0


def resolve(text: str, sender_id: str, cipher: FieldCipher, *, session: Session) -> str:
    """`text` with this sender's tokens turned back into what was typed (others left as they are)."""

    def value(match: re.Match[str]) -> str:
        row = session.get(PiiValue, match.group(2))
        if row is None or row.sender_id != sender_id or row.kind != match.group(1):
            return match.group(0)
        try:
            return cipher.decrypt(row.sealed)
        except DecryptionError:
            logger.warning("a tokenised value cannot be decrypted with the current key")
            return match.group(0)

    return TOKEN_RE.sub(value, text) if "pii" in text else text


def has_tokens(text: str) -> bool:
    return bool(TOKEN_RE.search(text))


# What staff read in place of a token in a transcript taken from Rasa's tracker (which holds
# only tokens): the kind of value, never the value.
TOKEN_LABELS = {"id": "[身份证号]", "ph": "[手机号]"}


def label_tokens(text: str) -> str:
    """`text` with each token replaced by the label of its kind (transcripts, reports)."""
    return TOKEN_RE.sub(lambda m: TOKEN_LABELS[m.group(1)], text) if "pii" in text else text
