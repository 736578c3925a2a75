"""The Faust app: one agent per hop of the topology (``topology``), each a loop around ``run_hop``.

Agents hand the hop's thread whatever accumulated while its previous batch ran (``batching``: up to
``BATCH_MAX``), so batches grow with load and the next one is collected meanwhile. Each hop runs on
its own thread, never on the event loop: a batch of embeddings or a slow model call must not stall
heartbeats (a member that misses them is evicted and its partitions rebalanced) or the other hops'
fetches and sends. ONNX and numpy release the GIL, so while the router embeds, the loop keeps moving
records for the other hops. One thread per hop keeps each hop's batches in order and its state (the
gate's seen-set, the CRM connection) on one thread.

Faust consumes; outputs leave through the app's librdkafka :class:`Publisher` (Faust's own send path
cost ~16% of the worker's GIL time). An offset is committed only past records a hop processed (the
commit guard in ``transport``/``offsets``, not Faust's own rule) and after the publisher has flushed
every output, so delivery is at-least-once; the gate suppresses redelivered tickets and every
consumer of ``outcomes`` dedupes by ticket id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT

from supportflow.processors.audit import audit_event
from supportflow.processors.conversation.state import StateBook
from supportflow.settings import Settings, TopicSettings
from supportflow.streams.batching import run_overlapped
from supportflow.streams.conversations import ConversationTable, conversation_table
from supportflow.streams.handlers import Emit, Message, Sink
from supportflow.streams.publisher import Publisher
from supportflow.streams.runtime import Runtime
from supportflow.streams.topology import Hop, hops, run_hop
from supportflow.streams.tracing_headers import header_list
from supportflow.streams.transport import PipelineApp

log = logging.getLogger(__name__)

BATCH_MAX = 64


def _messages(events: Sequence[Any]) -> list[Message]:
    return [
        Message(
            e.message.topic, e.message.partition, e.message.offset, e.message.key, e.value,
            header_list(e.message.headers) if e.message.headers else (),
        )
        for e in events
    ]  # fmt: skip


def build_app(settings: Settings, bootstrap: str, runtime: Runtime) -> PipelineApp:
    """A Faust app with one agent per hop of ``settings.topology``; outputs leave through its publisher."""
    app = _faust_app(settings, bootstrap)
    app.publisher = Publisher(bootstrap, linger_ms=2)
    conversations = conversation_table(app, settings)
    for hop in hops(settings.topology):
        keeps = conversations if hop.keeps_conversations else None
        _add_agent(app, settings.topics, hop, _hop_handler(hop, runtime), keeps)
    return app


def table_dir(settings: Settings) -> Path:
    """Faust's data folder: with a ``rocksdb://`` store, where the table's files are, one folder per
    app id and worker process (two workers on one host must not open the same RocksDB files; in a pod
    the process id is the same after a container restart, so the pod's volume keeps serving it). The
    memory store writes nothing there."""
    base = settings.data_dir / "tables" / settings.app_id
    return base / f"worker-{os.getpid()}" if settings.conversation.on_disk else base


def _faust_app(settings: Settings, bootstrap: str) -> PipelineApp:
    session_s = settings.session_timeout_s
    table_dir(settings).mkdir(parents=True, exist_ok=True)  # Faust works in it from start-up
    return PipelineApp(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topics.partitions,
        topic_allow_declare=False,  # topics are created up front with explicit partition counts
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_s,
        broker_heartbeat_interval=max(1.0, session_s / 6),
        broker_commit_interval=1.0,
        web_enabled=False,
        store=settings.conversation.store,
        datadir=str(table_dir(settings)),
    )


Handler = Callable[[list[Message], StateBook | None], list[Emit]]


def _hop_handler(hop: Hop, runtime: Runtime) -> Handler:
    def handle(messages: list[Message], book: StateBook | None) -> list[Emit]:
        emits, duplicates = run_hop(hop, messages, runtime, runtime.seen.check_and_add, audit_event, book)
        if duplicates:
            log.info("%s suppressed %d redelivered tickets", hop.name, duplicates)
        return emits

    return handle


def _add_agent(
    app: PipelineApp, t: TopicSettings, hop: Hop, handle: Handler, conversations: ConversationTable | None
) -> None:
    """The hop's agent: batches of its input topic through ``handle`` on the hop's own thread, with the
    conversation state of the batch read before and written after, on the loop (``conversations``)."""
    publisher = app.publisher
    assert publisher is not None
    sinks = {
        Sink.OUTCOME: t.full(t.outcomes),
        Sink.DEAD_LETTER: t.full(t.dead_letter),
        Sink.AUDIT: t.full(t.audit),
    }
    next_topic = t.full(getattr(t, hop.writes)) if hop.writes else None
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hop-{hop.name}")

    async def publish(emits: list[Emit]) -> None:
        for emit in emits:
            target = next_topic if emit.sink == Sink.NEXT else sinks[emit.sink]
            assert target is not None, f"hop {hop.name} emitted {emit.sink} without a next topic"
            await publisher.produce(target, emit.key, emit.value, emit.headers)

    async def agent(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()

        async def handle_batch(events: list[EventT]) -> list[tuple[EventT, float]]:
            messages = _messages(events)
            if conversations is None:
                await publish(await loop.run_in_executor(thread, handle, messages, None))
                return []
            keys = {m.key: (m.topic, m.partition) for m in messages if m.key is not None}
            book = conversations.book(keys)
            emits = await loop.run_in_executor(thread, handle, messages, book)
            conversations.commit(book, keys)  # before the outputs: a commit flushes both, in this order
            await publish(emits)
            now_ms = time.time() * 1000
            # Messages of a burst whose window is open: handed back unacked, decided when it closes.
            return [(events[i], max(0.0, (due_ms - now_ms) / 1000)) for i, due_ms in book.held]

        # noack is on faust's Stream, not on the StreamT protocol. Acks are run_overlapped's, each
        # only after its batch's outputs were handed to the publisher; the commit guard learns of
        # each processed record before Faust sees its ack.
        manual = stream.noack()  # type: ignore[attr-defined]

        async def ack(event: EventT) -> None:
            app.processed(event.message)
            await manual.ack(event)

        await run_overlapped(
            manual.events(), handle_batch, ack, max_batch=BATCH_MAX, key=lambda e: e.message.key
        )

    agent.__name__ = f"{hop.name.replace('-', '_')}_agent"
    source = app.topic(
        t.full(getattr(t, hop.reads)), partitions=t.partitions, key_type=bytes, value_type=bytes
    )
    app.agent(source, name=hop.name)(agent)
