"""JSON through orjson where a turn spends its time on it, with `json` as the fallback.

Rasa decodes a conversation's every event on each turn (the tracker store's rows) and encodes
the whole tracker for every action-server call: with `json` that was a fifth of Rasa's CPU
per turn (py-spy, closed loop). orjson does both several times faster. What orjson refuses
and `json` accepts is handed to `json`, so nothing that was readable or writable stops
being so: integers beyond 64 bits, `NaN`/`Infinity` in old rows, non-string keys that `json`
would turn into strings are covered by the option below.
"""

from __future__ import annotations

import json
from typing import Any, Union

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """`json.dumps(value)`'s meaning (UTF-8 kept as is, no spaces)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a type or number orjson does not write
        return json.dumps(value)


def loads(text: Union[str, bytes]) -> Any:
    """`json.loads(text)`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, Infinity, big integers: json reads them
        return json.loads(text)
