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

A handler may hand events back (``handle_batch`` returns them with a delay): they are not acked, and
return to the front of ``pending`` when their delay is over, with every later event of the same key
(``key``) that arrived meanwhile, so one key's events are still handled in order. The burst window of
conversations uses this (``processors/conversation/burst.py``). Their offsets stay uncommitted
meanwhile, so a crash redelivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

E = TypeVar("E")
#: Events ``handle_batch`` hands back, each with the seconds to wait before it is handled again.
Deferred = Sequence[tuple[E, float]]


class Held(Generic[E]):
    """Events handed back, by key: released together, in arrival order, once the key's last delay is over."""

    def __init__(self, key: Callable[[E], Hashable]) -> None:
        self._key = key
        self._events: dict[Hashable, list[E]] = {}
        self._until: dict[Hashable, float] = {}

    def __bool__(self) -> bool:
        return bool(self._events)

    def hold(self, deferred: Deferred[E]) -> None:
        now = time.monotonic()
        for event, delay_s in deferred:
            key = self._key(event)
            self._events.setdefault(key, []).append(event)
            self._until[key] = max(self._until.get(key, 0.0), now + delay_s)

    def absorb(self, batch: list[E]) -> list[E]:
        """The events of ``batch`` whose key is not held; the others join their key's held events."""
        if not self._events:
            return batch  # the usual case: nothing held, no lookups
        free = []
        for event in batch:
            key = self._key(event)
            if key in self._events:
                self._events[key].append(event)
            else:
                free.append(event)
        return free

    def release(self) -> list[E]:
        now = time.monotonic()
        due = [k for k, until in self._until.items() if until <= now]
        out: list[E] = []
        for key in due:
            del self._until[key]
            out += self._events.pop(key)
        return out

    def next_release_s(self) -> float | None:
        return max(0.0, min(self._until.values()) - time.monotonic()) if self._until else None


async def run_overlapped(
    events: AsyncIterable[E],
    handle_batch: Callable[[list[E]], Awaitable[Deferred[E] | None]],
    ack: Callable[[E], Awaitable[object]],
    *,
    max_batch: int,
    key: Callable[[E], Hashable] | None = None,
) -> None:
    """Run until ``events`` ends or either side raises (the exception propagates; the failed batch is not acked).

    ``key`` is needed only when ``handle_batch`` hands events back."""
    pending: list[E] = []
    held: Held[E] = Held(key or id)
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

    async def next_batch() -> list[E] | None:
        while True:
            if not pending:
                if closed and not held:
                    return None  # the source ended and everything it gave was handled
                wait_s = held.next_release_s()
                if wait_s is None:
                    await has_work.wait()
                elif closed:
                    await asyncio.sleep(wait_s)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(has_work.wait(), timeout=wait_s)
            batch = held.release() + held.absorb(pending[:max_batch])
            del pending[:max_batch]
            if not pending and not closed:
                has_work.clear()
            has_room.set()
            if batch:
                return batch

    async def handle() -> None:
        while (batch := await next_batch()) is not None:
            deferred = await handle_batch(batch) or ()
            if deferred:
                held.hold(deferred)
            back = {id(event) for event, _ in deferred}
            for event in batch:
                if id(event) not in back:
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
