"""Adaptive batches for a stage agent: collect the next batch while the stage thread works on this one.

Faust's ``take_events`` alternates: it fills a buffer (until ``max`` events or a timer), hands it
over, and buffers nothing until the handler returns. So a stage's thread sat idle while the event
loop collected its next batch, every record waited out part of the timer at every hop, and the
timer's bookkeeping (``wait_for_stopped`` per batch) was ~8% of the worker's GIL time.

Here a collector keeps pulling events into ``pending`` while at most one batch is being handled; the
handler takes whatever has accumulated (up to ``max_batch``). Under light load a record goes through
at once; under heavy load batches grow by themselves. ``pending`` is bounded (``max_batch``), so a
slow stage stops the collector, which stops Faust's stream, which pauses fetching.

An event is acked only after its batch was handled and its outputs handed to the publisher, so
Faust never commits an offset past a record whose outputs do not exist (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

E = TypeVar("E")


async def run_overlapped(
    events: AsyncIterable[E],
    handle_batch: Callable[[list[E]], Awaitable[None]],
    ack: Callable[[E], Awaitable[object]],
    *,
    max_batch: int,
) -> None:
    """Run until ``events`` ends or either side raises (the exception propagates; the failed batch is not acked)."""
    pending: list[E] = []
    closed = False
    has_work = asyncio.Event()  # set while pending has events, or once the source has ended
    has_room = asyncio.Event()
    has_room.set()

    async def collect() -> None:
        nonlocal closed
        async for event in events:
            pending.append(event)
            has_work.set()
            if len(pending) >= max_batch:
                has_room.clear()
                await has_room.wait()
        closed = True
        has_work.set()

    async def handle() -> None:
        while True:
            await has_work.wait()
            if not pending:
                return  # the source ended and everything it gave was handled
            batch = pending[:max_batch]
            del pending[:max_batch]
            if not pending and not closed:
                has_work.clear()
            has_room.set()
            await handle_batch(batch)
            for event in batch:
                await ack(event)

    collector = asyncio.ensure_future(collect())
    handler = asyncio.ensure_future(handle())
    try:
        done, _ = await asyncio.wait({collector, handler}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # re-raise a failure
        await handler  # the source ended: finish what was collected
    finally:
        for task in (collector, handler):
            task.cancel()
        await asyncio.gather(collector, handler, return_exceptions=True)
