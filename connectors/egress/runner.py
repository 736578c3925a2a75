"""The streaming side of egress: consume outcomes, apply each to the helpdesk, then commit its offset.

Delivery guarantee: an offset is committed only after its outcome was delivered, recognised as a
duplicate or dead-lettered (the dead letter acknowledged by the broker first). A crash anywhere before
that redelivers the outcome, and the idempotency store plus the ``Idempotency-Key`` header turn the
redelivery into a no-op: at-least-once consumption + idempotent application = effectively once.

Messages are handled one at a time in offset order per partition (outcomes are keyed by conversation,
so one conversation's updates reach the helpdesk in order). A message may block for the full retry
budget, so ``max.poll.interval.ms`` is sized from the retry policy instead of librdkafka's 5 minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from supportflow.connectors.egress.delivery import DeliveryInterrupted
from supportflow.connectors.egress.dispatch import Dispatcher, Fate
from supportflow.schemas.errors import TransientError
from supportflow.streams import kafka
from supportflow.streams.contiguous import ContiguousReads
from supportflow.streams.handlers import Message
from supportflow.streams.tansu_quirks import FAST_GROUP_CONFIG, seed_group_offsets

log = logging.getLogger(__name__)

#: Freshdesk needs up to three requests per outcome (note, update, the handoff reply), plus a lookup and
#: a creation when the conversation has no ticket yet; size the poll interval for the slowest connector.
MAX_STEPS_PER_OUTCOME = 5


@dataclass
class RunnerStats:
    consumed: int = 0
    delivered: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    already_applied: int = 0
    http_attempts: int = 0
    committed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class EgressRunner:
    def __init__(
        self,
        dispatcher: Dispatcher,
        bootstrap: str,
        outcomes_topic: str,
        dead_letter_topic: str,
        group_id: str,
        *,
        embedded_quirks: bool = False,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        poll_timeout_s: float = 0.5,
        produce_timeout_s: float = 30.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.bootstrap = bootstrap
        self.outcomes_topic = outcomes_topic
        self.dead_letter_topic = dead_letter_topic
        self.group_id = group_id
        self.embedded_quirks = embedded_quirks
        self.auto_offset_reset = auto_offset_reset
        self.poll_timeout_s = poll_timeout_s
        self.produce_timeout_s = produce_timeout_s
        self.stats = RunnerStats()
        self._handled: dict[tuple[str, int], int] = {}  # next offset to commit, per partition

    def _consumer_config(self) -> dict[str, Any]:
        deliverer = self.dispatcher.deliverer
        worst_s = MAX_STEPS_PER_OUTCOME * deliverer.policy.worst_case_s(deliverer.timeout_s) + 60
        return {
            "auto.offset.reset": self.auto_offset_reset,
            "max.poll.interval.ms": int(min(max(worst_s, 300), 86_400) * 1000),
            **FAST_GROUP_CONFIG,  # classic protocol; fast joins on Tansu, harmless on Kafka
        }

    def run(self, stop: threading.Event) -> RunnerStats:
        """Consume until ``stop`` is set; returns the counters. Raises TransientError if the DLQ is down."""
        if self.embedded_quirks and self.auto_offset_reset == "earliest":
            seed_group_offsets(self.bootstrap, self.group_id, [self.outcomes_topic])
        consumer = kafka.consumer(self.bootstrap, self.group_id, **self._consumer_config())
        reads = ContiguousReads(consumer)  # no outcome skipped over by a fetch that jumped
        producer = kafka.producer(self.bootstrap, **{"linger.ms": 0})
        reads.subscribe([self.outcomes_topic], on_revoke=self._on_revoke)
        log.info(
            "egress %s consuming %s as group %s", self.dispatcher.stage, self.outcomes_topic, self.group_id
        )
        try:
            while not stop.is_set():
                msg = reads.poll(self.poll_timeout_s)
                if msg is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", error)
                    continue
                message = Message(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value() or b"")
                try:
                    self._handle(message, producer)
                except DeliveryInterrupted:
                    log.info("stopping mid-retry; %s[%d]@%d stays uncommitted", *_where(message))
                    break
                self._handled[(message.topic, message.partition)] = message.offset + 1
                next_offset = TopicPartition(message.topic, message.partition, message.offset + 1)
                consumer.commit(offsets=[next_offset], asynchronous=True)
                self.stats.committed += 1
        finally:
            self._commit_sync(consumer)
            consumer.close()
            producer.flush(self.produce_timeout_s)
        return self.stats

    def _handle(self, message: Message, producer: Producer) -> None:
        self.stats.consumed += 1
        handled = self.dispatcher.handle(message)
        self.stats.http_attempts += handled.requests_sent
        self.stats.already_applied += handled.already_applied
        if handled.fate == Fate.DELIVERED:
            self.stats.delivered += 1
        elif handled.fate == Fate.DUPLICATE:
            self.stats.duplicates += 1
        else:
            assert handled.dead_letter is not None
            self._produce_dead_letter(producer, handled.dead_letter.key, handled.dead_letter.value, message)
            self.stats.dead_lettered += 1

    def _produce_dead_letter(
        self, producer: Producer, key: bytes | None, value: bytes, source: Message
    ) -> None:
        """Synchronous: the source offset may be committed only once the dead letter is durable."""
        errors: list[str] = []
        producer.produce(self.dead_letter_topic, key=key, value=value,
                         on_delivery=lambda err, _m: errors.append(str(err)) if err else None)  # fmt: skip
        remaining = producer.flush(self.produce_timeout_s)
        if remaining or errors:
            raise TransientError(
                f"dead letter for {source.topic}[{source.partition}]@{source.offset} not acknowledged: "
                f"{errors[:1] or f'{remaining} pending after {self.produce_timeout_s}s'}"
            )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit_sync(consumer)

    def _commit_sync(self, consumer: Consumer) -> None:
        if not self._handled:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._handled.items()]
        start = time.monotonic()
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # e.g. rebalance in progress: redelivery is deduped by the store
            log.warning("final commit failed (%s); those outcomes will be redelivered and skipped", exc)
        else:
            log.debug("committed %d partitions in %.0f ms", len(offsets), (time.monotonic() - start) * 1000)
        self._handled.clear()


def _where(message: Message) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset
