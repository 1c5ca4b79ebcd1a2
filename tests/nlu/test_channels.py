"""The REST channel's turn outlives the request that brought it (`nlu/channels.py`)."""

from __future__ import annotations

import asyncio

import pytest

from nlu.channels import run_to_the_end


@pytest.mark.asyncio
async def test_a_turn_finishes_when_its_caller_is_cancelled() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def turn(_message: object) -> None:
        started.set()
        await asyncio.sleep(0.05)  # the action server's call, the tracker's save
        finished.set()

    request = asyncio.ensure_future(run_to_the_end(turn)(object()))  # type: ignore[arg-type]
    await started.wait()
    request.cancel()  # Sanic's connection_lost
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.wait_for(finished.wait(), 1.0)


@pytest.mark.asyncio
async def test_a_turns_error_still_reaches_the_channel() -> None:
    async def turn(_message: object) -> None:
        raise RuntimeError("policy failed")

    with pytest.raises(RuntimeError):
        await run_to_the_end(turn)(object())  # type: ignore[arg-type]
