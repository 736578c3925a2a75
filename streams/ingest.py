"""Publish inbound events to the ingress topic, keyed so one conversation stays in one partition."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from supportflow.processors.channels import parse_event
from supportflow.schemas import wire
from supportflow.schemas.errors import SupportflowError, TransientError
from supportflow.schemas.models import InboundEvent
from supportflow.streams import kafka


def ingress_key(event: InboundEvent) -> bytes:
    """The conversation id when the event parses, else its own id (it will be dead-lettered).

    This parses on the producer side, and normalize parses again in the worker: the price of keeping
    one conversation in one partition from the very first topic. JSON channels parse at 19-89k/s per
    core; email at ~780/s, so a high-volume mailbox ingester should key by its own thread id instead.
    """
    try:
        tickets = parse_event(event, event.received_at_ms)
    except SupportflowError:
        tickets = []
    return (tickets[0].conversation_id if tickets else event.event_id).encode()


def publish_events(
    bootstrap: str,
    topic: str,
    events: Iterable[InboundEvent],
    on_sent: Callable[[int], None] | None = None,
    timeout_s: float = 30.0,
    rate_per_s: float | None = None,
) -> int:
    """Publish and wait for every acknowledgement; ``rate_per_s`` paces a sustained load (benchmarks)."""
    producer = kafka.producer(bootstrap, **{"linger.ms": 5, "compression.type": "lz4"})
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    sent = 0
    start = time.monotonic()
    for event in events:
        if rate_per_s:
            delay = start + sent / rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        # Latency is measured from the moment an event enters ingress, not from when it was read from disk.
        event = event.model_copy(update={"received_at_ms": int(time.time() * 1000)})
        producer.produce(topic, key=ingress_key(event), value=wire.encode(event), on_delivery=delivered)
        producer.poll(0)
        sent += 1
        if on_sent:
            on_sent(sent)
    remaining = producer.flush(timeout_s)
    if remaining or errors:
        raise TransientError(f"{remaining} events unacknowledged, {len(errors)} failed: {errors[:3]}")
    return sent
