"""Faust transport: a short consumer fetch wait, commits guarded by what was processed, outputs via the Publisher.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. One consumer reads every stage's
topic, so while a fetch is parked at the broker waiting for data, the record a stage just produced
for the next stage waits with it: up to 1.5 s per hop, five hops per ticket. A 50 ms wait bounds
that cost. (Not 0: Tansu answers a zero-wait fetch with an empty response, PLATFORM.md defect 3.)

Commits: Faust's own rule can commit past records nobody processed around a rebalance (see
:mod:`supportflow.streams.offsets`); the consumer here commits through a :class:`CommitGuard` that
the stage agents tell, record by record, what they processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from supportflow.streams import metrics
from supportflow.streams.offsets import CommitGuard
from supportflow.streams.publisher import Publisher

FETCH_MAX_WAIT_MS = 25
#: A commit held back this long by a record that was never processed (while later ones were) makes
#: the worker read that partition again from the record. Long enough that a record merely queued
#: behind a backlog is not re-read (a stage's full queue is ~30 s of work at 150 tickets/s).
HELD_COMMIT_REREAD_S = 60.0

log = logging.getLogger(__name__)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.commit_guard: CommitGuard[TP] = CommitGuard()
        self.held_reread_s = HELD_COMMIT_REREAD_S
        self._rereads: set[asyncio.Future[None]] = set()
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Every (re)assignment reads from here: the guard counts processed records from these offsets.
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            self.commit_guard.sought(TP(tp.topic, tp.partition), offset)
        return committed

    def ack(self, message: Message) -> bool:
        if self.commit_guard.was_processed(message.tp, message.offset):
            return super().ack(message)
        # Faust acks records its streams skip without processing (fetched before a rebalance, or
        # while flow was suspended). Let go of them, but never count them toward a commit.
        with ack_lock:
            if not message.acked:
                message.acked = True
                self._unacked_messages.discard(message)
                notify(self._waiting_for_ack)
        return False

    def _new_offset(self, tp: TP) -> int | None:
        guard = self.commit_guard
        if not guard.known(tp):
            # No committed offset to count from (a new group on a broker that was not seeded):
            # Faust's rule, until its first commit gives the guard a position.
            offset = super()._new_offset(tp)
            if offset is not None:
                guard.sought(tp, offset)  # committed from here on
            return offset
        gaps = self._gap.get(tp)

        def absent_until(offset: int) -> int | None:
            hits = gaps.at(offset) if gaps else ()
            return max(iv.end for iv in hits) if hits else None

        offset = guard.advance(tp, absent_until)
        held = guard.held(tp)
        if held and held[1] > self.held_reread_s:
            self._reread(tp, *held)
        if offset is not None:  # Faust's own bookkeeping: forget what is now behind the commit
            self._acked[tp][:] = [o for o in self._acked[tp] if o >= offset]
            self._acked_index[tp] = {o for o in self._acked_index[tp] if o >= offset}
            if gaps:
                gaps.chop(0, offset)
        return offset

    def _reread(self, tp: TP, offset: int, held_s: float) -> None:
        """Read ``tp`` again from ``offset``: that record was dropped somewhere (never processed) while
        later ones were, so without this it would wait for the next rebalance or restart."""
        log.warning(
            "%s[%d]: record %d was never processed, later ones were (commit held %.0fs); reading the "
            "partition again from it", tp.topic, tp.partition, offset, held_s,
        )  # fmt: skip
        self.commit_guard.sought(tp, offset)  # restarts the hold's clock: at most one re-read per interval
        metrics.observe_reread(tp.topic)

        async def seek() -> None:
            try:
                await self.seek(tp, offset)
            except Exception as exc:  # e.g. the partition was rebalanced away meanwhile
                log.warning("could not re-read %s[%d] from %d: %r", tp.topic, tp.partition, offset, exc)

        task = asyncio.ensure_future(seek())
        self._rereads.add(task)
        task.add_done_callback(self._rereads.discard)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust records a jump in fetched offsets as a gap that ends *at* the record it jumped to,
        # which would count that record as done before it was processed; the gap ends before it.
        await super()._add_gap(tp, offset_from, offset_to - 1)


class _Producer(faust_aiokafka.Producer):
    async def flush(self) -> None:
        # Faust awaits this before every offset commit: stage outputs sent through the app's
        # Publisher must be acknowledged too, or the commit must not happen (it raises).
        await super().flush()
        publisher = getattr(self.transport.app, "publisher", None)
        if publisher is not None:
            await publisher.flush()


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer


class PipelineApp(faust.App):
    """A Faust app whose consumer uses :class:`LowLatencyTransport`; stage outputs go out through
    ``publisher`` (:class:`~supportflow.streams.publisher.Publisher`), flushed before each commit."""

    publisher: Publisher | None = None

    def processed(self, message: Message) -> None:
        """``message`` was processed and its outputs handed to the publisher: its offset may be committed."""
        cast(_Consumer, self.consumer).commit_guard.processed(message.tp, message.offset)

    def _new_transport(self) -> TransportT:
        return LowLatencyTransport(self.conf.broker_consumer, self)
