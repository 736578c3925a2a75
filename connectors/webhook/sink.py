"""Where accepted requests go: the ingress topic, acknowledged before the client hears 200.

:class:`EventSink` is the seam the HTTP layer depends on; :class:`KafkaEventSink` is the production
implementation (confluent-kafka, ``acks=all``). Tests may pass any object with the same methods.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message

from supportflow.schemas.errors import TransientError
from supportflow.streams import kafka, tracing

log = logging.getLogger(__name__)

#: (key, value) pairs for one topic.
Records = Sequence[tuple[bytes, bytes]]


class DeliveryError(TransientError):
    """The broker did not acknowledge every record in time; the client must retry."""


class EventSink(Protocol):
    async def send(self, topic: str, records: Records) -> None:
        """Return only when every record is acknowledged; raise :class:`DeliveryError` otherwise."""
        ...

    async def check_ready(self, topic: str) -> str | None:
        """None when the topic is writable now, else the reason it is not."""
        ...

    async def close(self) -> None: ...


class KafkaEventSink:
    """A confluent-kafka producer serviced by one poll thread; deliveries resolve asyncio futures.

    ``message.timeout.ms`` equals the HTTP-side delivery timeout, so a message the client was told
    failed (503) is also abandoned by librdkafka instead of landing minutes later; if one does land
    (ack lost in flight), the sender's retry carries the same deterministic event id and ticket id,
    and the pipeline dedupes by ticket id.
    """

    def __init__(self, bootstrap: str, *, delivery_timeout_s: float = 5.0, readiness_timeout_s: float = 2.0,
                 config: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        # The service's one producer of ingress.raw: where its traces start (off unless OTEL_* names
        # an exporter; once per process).
        tracing.configure_from_env(service_name="supportflow-webhook")
        self._delivery_timeout_s = delivery_timeout_s
        self._readiness_timeout_s = readiness_timeout_s
        self._fatal: str | None = None
        self._producer = kafka.producer(
            bootstrap,
            **{
                "linger.ms": 2,
                "compression.type": "lz4",
                "message.timeout.ms": max(1, int(delivery_timeout_s * 1000)),
                "socket.timeout.ms": max(10, int(readiness_timeout_s * 1000)),
                "error_cb": self._on_error,
                **(config or {}),
            },
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="webhook-producer-poll", daemon=True)
        self._poller.start()

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = str(err)
        log.warning("producer error (%s): %s", self.bootstrap, err)

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    async def send(self, topic: str, records: Records) -> None:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []

        def settle(fut: asyncio.Future[None], err: KafkaError | None) -> None:
            if fut.done():  # the request already gave up waiting
                return
            if err is None:
                fut.set_result(None)
            else:
                fut.set_exception(DeliveryError(f"broker rejected the record: {err}"))

        for key, value in records:
            fut: asyncio.Future[None] = loop.create_future()

            def on_delivery(err: KafkaError | None, _msg: Message, fut: asyncio.Future[None] = fut) -> None:
                loop.call_soon_threadsafe(settle, fut, err)

            headers = tracing.ingress_headers(topic)  # None while tracing is off
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=on_delivery, headers=headers)
            except (BufferError, KafkaException) as exc:
                for pending in futures:  # nobody will await them now
                    pending.cancel()
                reason = "the producer queue is full" if isinstance(exc, BufferError) else str(exc)
                raise DeliveryError(f"cannot produce to {topic}: {reason}") from exc
            futures.append(fut)
        try:
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._delivery_timeout_s)
        except TimeoutError as exc:
            raise DeliveryError(
                f"broker {self.bootstrap} did not acknowledge within {self._delivery_timeout_s}s"
            ) from exc

    async def check_ready(self, topic: str) -> str | None:
        if self._fatal:
            return f"producer failed: {self._fatal}"
        if not self._poller.is_alive():
            return "producer poll thread stopped"
        loop = asyncio.get_running_loop()
        timeout = self._readiness_timeout_s
        try:
            # No topic argument: asking for one by name can auto-create it on some brokers.
            meta = await asyncio.wait_for(
                loop.run_in_executor(None, lambda: self._producer.list_topics(timeout=timeout)), timeout + 1
            )
        except (KafkaException, TimeoutError) as exc:
            return f"broker {self.bootstrap} unreachable: {exc or 'timeout'}"
        found = meta.topics.get(topic)
        if found is None or found.error is not None:
            return f"topic {topic} does not exist on {self.bootstrap}"
        return None

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        remaining = await loop.run_in_executor(None, self._producer.flush, self._delivery_timeout_s)
        self._stop.set()
        await loop.run_in_executor(None, self._poller.join, 2.0)
        if remaining:
            log.warning("%d records still unacknowledged at shutdown", remaining)
