"""Faust transport with a short consumer fetch wait: per-hop latency in a multi-stage pipeline.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. One consumer reads every stage's
topic, so while a fetch is parked at the broker waiting for data, the record a stage just produced
for the next stage waits with it: up to 1.5 s per hop, five hops per ticket. A 50 ms wait bounds
that cost. (Not 0: Tansu answers a zero-wait fetch with an empty response, PLATFORM.md defect 3.)
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT

from supportflow.streams.publisher import Publisher

FETCH_MAX_WAIT_MS = 25


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


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

    def _new_transport(self) -> TransportT:
        return LowLatencyTransport(self.conf.broker_consumer, self)
