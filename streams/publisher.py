"""Stage outputs leave through one librdkafka producer instead of Faust's aiokafka producer.

Why: a profile of a worker at full speed had ``Topic.send`` (Faust's channel and topic layers plus
aiokafka's Python accumulator and sender) holding the GIL for ~16% of all samples, about as much as
routing itself. librdkafka builds batches and talks to the broker on its own C threads;
``produce()`` is a few microseconds of Python per record.

At-least-once is kept the way Faust keeps it. A stage acks a consumed event only after its outputs
were handed to :meth:`Publisher.produce` (``streams/batching.py``), and before Faust commits any
offset it calls ``app.producer.flush()``; :class:`~supportflow.streams.transport.PipelineApp`'s
producer also awaits :meth:`Publisher.flush` there, which raises :class:`PublishError` if a record
was not acknowledged. So an offset is never committed past an output the broker did not take: the
worker stops instead, and the events are consumed again (the gate and every consumer of
``outcomes`` dedupe by ticket id).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping

from confluent_kafka import KafkaError, Message

from supportflow.schemas.errors import PermanentError
from supportflow.streams import kafka

log = logging.getLogger(__name__)

#: How long :meth:`Publisher.close` waits for outstanding records at shutdown.
FLUSH_TIMEOUT_S = 30.0
#: A flush waits in slices this long, so the executor thread is never parked for minutes.
FLUSH_SLICE_S = 1.0
#: When librdkafka's local queue is full, wait this long for it to drain before trying again.
BACKPRESSURE_WAIT_S = 0.005


class PublishError(PermanentError):
    """Records were not acknowledged by the broker: offsets must not be committed past them."""


class Publisher:
    """Non-blocking keyed produce for stage outputs; :meth:`flush` reports every failed delivery."""

    def __init__(self, bootstrap: str, *, linger_ms: int = 2, config: Mapping[str, object] | None = None):
        self._producer = kafka.producer(
            bootstrap,
            **{
                "linger.ms": linger_ms,
                # Successful deliveries cost no Python callback; only failures are reported.
                "delivery.report.only.error": True,
                "on_delivery": self._delivered,
                **(config or {}),
            },
        )
        self._failures: list[str] = []
        self._reported = 0  # failures a flush has already raised (close counts only the others)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # Delivery reports (failures only) and librdkafka's error events are served here, so the
        # event loop never polls.
        self._poller = threading.Thread(target=self._poll_forever, name="publisher-poll", daemon=True)
        self._poller.start()

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            with self._lock:
                self._failures.append(f"{msg.topic()}: {err.str()}")

    async def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        """Queue one record; waits (without blocking the loop) only while librdkafka's queue is full."""
        while True:
            try:
                # headers: the trace context; None (no headers) while tracing is off
                self._producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:
                await asyncio.sleep(BACKPRESSURE_WAIT_S)

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every queued record is settled; raise :class:`PublishError` if any was not delivered,
        then and at every later flush.

        With no ``timeout_s`` it waits as long as librdkafka needs: each record is either delivered or
        failed within ``message.timeout.ms`` (5 minutes by default), so a broker outage shorter than
        that holds the commit back instead of stopping the worker.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            slice_s = (
                FLUSH_SLICE_S if deadline is None else max(0.0, min(FLUSH_SLICE_S, deadline - loop.time()))
            )
            remaining = await loop.run_in_executor(None, self._producer.flush, slice_s)
            if not remaining or (deadline is not None and loop.time() >= deadline):
                break
        with self._lock:
            # Kept, not cleared: the inputs of a lost output were already acked, so no later commit
            # (Faust commits once more while it stops after the crash) may pass them.
            failures = list(self._failures)
            self._reported = len(failures)
        if remaining or failures:
            raise PublishError(f"{remaining} records unacknowledged, {len(failures)} failed: {failures[:3]}")

    def close(self, timeout_s: float = FLUSH_TIMEOUT_S) -> int:
        """Flush what is left, then shut the producer down; returns how many records were lost."""
        remaining = int(self._producer.flush(timeout_s))
        with self._lock:
            failed = len(self._failures) - self._reported
        if remaining:
            # Otherwise close() would wait out message.timeout.ms for a broker that is gone.
            self._producer.purge()
            self._producer.flush(0)
        self._stopping.set()
        self._poller.join(timeout=1.0)
        self._producer.close()
        if remaining or failed:
            log.error("publisher closed with %d unacknowledged and %d failed records", remaining, failed)
        return remaining + failed
