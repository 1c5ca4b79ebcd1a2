"""common.fast_json reads and writes what `json` does (orjson first, `json` for the rest)."""

from __future__ import annotations

import json
import math

import pytest

from common import fast_json

EVENT = {"event": "user", "timestamp": 1764576000.123456, "text": "我要报装 8千瓦",
         "parse_data": {"intent": {"name": "apply", "confidence": 0.9731}, "entities": [], "nested": [1, None, True]}}


@pytest.mark.parametrize("value", [EVENT, [], {}, "", 0, -1.5, None, "\u2028 \U0001f600 \\ \""])
def test_what_json_writes_reads_back_the_same(value: object) -> None:
    assert fast_json.loads(fast_json.dumps(value)) == value == json.loads(fast_json.dumps(value))
    assert fast_json.loads(json.dumps(value)) == value
    assert fast_json.loads(json.dumps(value).encode()) == value


def test_what_orjson_refuses_goes_to_json() -> None:
    big = {"n": 2 ** 70}
    assert fast_json.dumps(big) == json.dumps(big) and fast_json.loads(json.dumps(big)) == big
    assert math.isnan(fast_json.loads(json.dumps({"x": float("nan")}))["x"])
    assert fast_json.loads(fast_json.dumps({1: "a"})) == {"1": "a"}  # as json.dumps would write it


def test_bad_json_is_still_an_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        fast_json.loads("{not json")
    with pytest.raises(TypeError):
        fast_json.dumps({"x": object()})
