"""Faust transport: a short consumer fetch wait, commits guarded by what was processed, outputs via the Publisher.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. One consumer reads every stage's
topic, so while a fetch is parked at the broker waiting for data, the record a stage just produced
for the next stage waits with it: up to 1.5 s per hop. A 25 ms wait bounds that cost. (Not 0: the
embedded broker answers a zero-wait fetch with an empty response, docs/embedded-broker.md defect 3.)

Commits: Faust's own rule can commit past records nobody processed around a rebalance or a seek (see
:mod:`supportflow.streams.offsets`); the consumer here commits through a :class:`CommitGuard` that
the stage agents tell, record by record, what they processed, and crosses only offsets a second read
of the log confirmed absent (:class:`FetchTracker`). Records fetched before a seek of their partition are dropped
before Faust sees them, so they can neither be processed as new nor make Faust skip the seek's own
records as already read.

Table changelog partitions are left entirely to Faust's recovery: it seeks them itself (past
``_seek``), counts what it has read against their high watermarks, and drops a rebalanced fetch by
generation. A changelog batch dropped here would never be fetched again, and recovery would wait
for it forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from supportflow.streams import metrics
from supportflow.streams.offsets import GAP_CONFIRM_S, CommitGuard, FetchTracker
from supportflow.streams.publisher import Publisher

#: How long table recovery waits for a changelog partition's high watermark on the embedded broker.
RECOVERY_WATERMARK_TIMEOUT_S = 15.0

FETCH_MAX_WAIT_MS = 25
#: A commit held back this long by a record that was never processed (while later ones were) makes
#: the worker read that partition again from the record. Long enough that a record merely queued
#: behind a backlog is not re-read (a stage's full queue is ~30 s of work at 150 tickets/s).
HELD_COMMIT_REREAD_S = 60.0


log = logging.getLogger(__name__)
#: Every commit the guard allows and every seek: quiet unless ``SUPPORTFLOW_LOG_COMMITS=true``.
commit_log = logging.getLogger("supportflow.streams.commits")
commit_log.setLevel(logging.WARNING)
#: Faust's assignor topic: subscribed, never written, never committed.
_FAUST_LEADER = "-__assignor-__leader"


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.commit_guard: CommitGuard[TP] = CommitGuard()
        self.fetches: FetchTracker[TP] = FetchTracker(GAP_CONFIRM_S)
        self.held_reread_s = HELD_COMMIT_REREAD_S
        self._batch_epochs: dict[TP, int] = {}
        self._reseek_after_seek: set[TP] = set()
        #: On the embedded broker a partition with no committed offset is read from offset 0: Tansu's
        #: "earliest" lookup, which the broker's reset policy would use, can skip records.
        self.start_unknown_at_zero = False
        self._background_tasks: set[asyncio.Future[None]] = set()
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Every (re)assignment reads from here: the guard counts processed records from these offsets.
        # Batches fetched while the seek runs are stale (epoch bumped before and after it).
        # Faust's table recovery owns changelog positions (it reads them from earliest_offsets, 0 here).
        changelogs = self.app.tables.changelog_topics
        seeking = {TP(tp.topic, tp.partition) for tp in self.assignment() if not self._is_changelog(tp)}
        for tp in seeking:
            self.fetches.seeking(tp, None)
        committed = await super().seek_to_committed()
        positions = {
            TP(tp.topic, tp.partition): offset
            for tp, offset in committed.items()
            if tp.topic not in changelogs
        }
        unknown = sorted(
            tp for tp in seeking
            if (positions.get(tp) is None or positions[tp] < 0) and not tp.topic.endswith(_FAUST_LEADER)
        )  # fmt: skip
        if unknown:
            log.warning("no committed offset for %s", ", ".join(f"{t.topic}[{t.partition}]" for t in unknown))
            if self.start_unknown_at_zero:
                for tp in unknown:
                    await self.seek(tp, 0)
                    positions[tp] = 0
        commit_log.info(
            "sought to committed: %s", {f"{t.topic}[{t.partition}]": o for t, o in positions.items()}
        )
        for tp in seeking | set(positions):
            offset = positions.get(tp)
            self.fetches.seeking(tp, offset)
            self.commit_guard.sought(tp, offset)
        # A batch that arrived while the seek ran was dropped: its partition is read again from here.
        # (a position may be None: Faust's leader-election topic has no offsets)
        again = {
            tp: offset
            for tp in self._reseek_after_seek
            if (offset := positions.get(tp)) is not None and offset >= 0
        }
        self._reseek_after_seek.clear()
        for tp, offset in again.items():
            await self.seek(tp, offset)
        return committed

    async def _seek(self, partition: TP, offset: int) -> None:
        # Faust seeks from this thread into the consumer thread's client; the seek runs in the
        # consumer's own thread here, so it cannot interleave with a fetch being assembled there.
        tp = TP(partition.topic, partition.partition)
        commit_log.info("%s[%d]: seek to %d", tp.topic, tp.partition, offset)
        tracked = not self._is_changelog(tp)
        if tracked:
            self.fetches.seeking(tp, offset)
        await self._thread.seek_wait({tp: offset})
        if tracked:
            self.fetches.seeking(tp, offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        await super().on_partitions_revoked(revoked)  # ends with the revoked partitions' last commit
        for tp in revoked:
            tp = TP(tp.topic, tp.partition)
            self.commit_guard.forget(tp)
            self.fetches.forget(tp)

    def _is_changelog(self, tp: TP) -> bool:
        return tp.topic in self.app.tables.changelog_topics

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        snapshot = self.fetches.snapshot()
        fetched, active = await super()._wait_next_records(timeout)
        self._batch_epochs = snapshot
        if not fetched:
            return fetched, active
        changelogs = {tp: batch for tp, batch in fetched.items() if self._is_changelog(tp)}
        records = {tp: batch for tp, batch in fetched.items() if tp not in changelogs}
        verdict = self.fetches.fetched(
            snapshot, {tp: [r.offset for r in batch] for tp, batch in records.items()}
        )
        for (
            tp,
            offset,
        ) in verdict.started.items():  # no committed offset: reading starts where the broker put us
            log.warning("%s[%d]: no committed offset; counting from the first record fetched, %d",
                        tp.topic, tp.partition, offset)  # fmt: skip
            self.commit_guard.sought(tp, offset)
        if verdict.suspect:
            commit_log.info("dropped batches fetched across a seek: %s", sorted(verdict.suspect))
            for tp in verdict.suspect:
                self._seek_again(tp)
        for tp, (offset, delay_s) in verdict.reseek.items():
            commit_log.info("%s[%d]: fetch jumped from %d to %d; reading it again in %.2fs",
                            tp.topic, tp.partition, offset, records[tp][verdict.keep[tp]].offset, delay_s)  # fmt: skip
            metrics.observe_fetch_jump(tp.topic)
            self._background(self._confirm_jump(tp, offset, delay_s), f"re-read {tp.topic}[{tp.partition}]")
        dropped = verdict.suspect | verdict.waiting
        kept = {
            tp: batch[: verdict.keep.get(tp, len(batch))]
            for tp, batch in records.items()
            if tp not in dropped
        }
        return {**changelogs, **{tp: batch for tp, batch in kept.items() if batch}}, active

    async def _confirm_jump(self, tp: TP, offset: int, delay_s: float) -> None:
        """Read ``tp`` again from ``offset``, the first record a fetch jumped over: the log either has it
        by then (the broker served a later batch first) or the same jump confirms the range absent."""
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        if self.fetches.still_waiting(tp, offset) and tp in self.assignment():
            await self.seek(tp, offset)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        async for tp, message in super().getmany(timeout):
            if self.fetches.is_stale(self._batch_epochs, tp) and not self._is_changelog(tp):
                continue  # fetched before a seek of its partition: the seek's own fetch brings it again
            yield tp, message

    def _seek_again(self, tp: TP) -> None:
        """``tp``'s batch was fetched across a seek: read it again from where the seek put it."""
        offset = self.fetches.next_offset(tp)
        if offset is None:  # a seek to the committed offset is still running: seek again after it
            self._reseek_after_seek.add(tp)
            return
        self._background(self.seek(tp, offset), f"seek {tp.topic}[{tp.partition}] to {offset}")

    def _background(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception as exc:  # e.g. the partition was rebalanced away meanwhile
                log.warning("could not %s: %r", what, exc)

        task = asyncio.ensure_future(run())
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)

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
            return None  # no position to count from yet: nothing is committed for it
        offset = guard.advance(tp, lambda o: self.fetches.absent_until(tp, o))
        held = guard.held(tp)
        if held and held[1] > self.held_reread_s:
            self._reread(tp, *held)
        if offset is not None:  # Faust's own bookkeeping: forget what is now behind the commit
            commit_log.info("%s[%d]: commit %d", tp.topic, tp.partition, offset)
            self._acked[tp][:] = [o for o in self._acked[tp] if o >= offset]
            self._acked_index[tp] = {o for o in self._acked_index[tp] if o >= offset}
            self.fetches.committed(tp, offset)
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
        self._background(self.seek(tp, offset), f"re-read {tp.topic}[{tp.partition}] from {offset}")

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        # Table recovery reads changelogs from here. Tansu's "earliest" can be past records that
        # exist (defect 2), which would recover a table without them; it deletes nothing, so 0 is right.
        if self.start_unknown_at_zero:
            return {tp: 0 for tp in partitions}
        return await super().earliest_offsets(*partitions)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        # Table recovery reads changelogs up to here. Tansu's ListOffsets "latest" stops at the start
        # of the last batch (defect 1), which would end recovery early; Fetch responses carry the truth.
        if not self.start_unknown_at_zero or not partitions:
            return await super().highwaters(*partitions)
        from confluent_kafka import TopicPartition

        from supportflow.streams.lag import fetch_watermarks

        url = self.app.conf.broker[0]
        bootstrap = f"{url.host}:{url.port}"
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        marks = await asyncio.to_thread(
            fetch_watermarks, bootstrap, wanted, f"{self.app.conf.id}.recovery", RECOVERY_WATERMARK_TIMEOUT_S
        )
        missing = [tp for tp in partitions if (tp.topic, tp.partition) not in marks]
        if missing:  # recovering to a guessed end could drop state: fail, and the worker restarts
            raise RuntimeError(f"no high watermark from the broker for {missing}")
        return {tp: marks[(tp.topic, tp.partition)][1] for tp in partitions}

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust infers gaps from the offsets it delivers, across seeks and rebalances too, where a
        # jump is no evidence that the log lacks those offsets. Absent offsets are learnt from clean
        # fetches instead (:class:`FetchTracker`).
        return None


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
