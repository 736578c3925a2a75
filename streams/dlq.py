"""Dead-letter tooling: list what failed, and replay it (as is, or with an operator's fixed payload).

The logic is Kafka-free (decode, select, plan a replay); two thin functions do the I/O
(:func:`read_dead_letters`, :func:`publish_replays`).

A letter is named by its own position in the dead-letter topic (``topic:partition:offset``), which
is unique. A replay re-publishes the letter's ORIGINAL bytes to the topic its failed stage consumes,
with the original key, so it is processed exactly as if it arrived again. A fixed replay (``--fix``)
wraps the operator's corrected payload as a new InboundEvent of the same channel. Replays are safe to
repeat: ticket ids are derived from the payload (message id, client ticket id or content hash), so a
replayed ticket has the id it would have had, and the gate and every outcome consumer dedupe by it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from supportflow.processors.channels import sniff_json_channel
from supportflow.schemas import wire
from supportflow.schemas.errors import InvalidInputError, SchemaError, TransientError
from supportflow.schemas.models import Channel, DeadLetter, InboundEvent
from supportflow.settings import TopicSettings
from supportflow.streams import kafka
from supportflow.streams.collect import read_messages
from supportflow.streams.handlers import Message
from supportflow.streams.ingest import ingress_key
from supportflow.streams.topology import STAGES_BY_NAME

#: Kafka headers on every replayed record, so a replay is traceable in the topic it lands in.
REPLAY_OF_HEADER = "supportflow-replay-of"
REPLAY_FIXED_HEADER = "supportflow-replay-fixed"

_POSITION = re.compile(r"^(?:(?P<topic>[^:\s]+):)?(?P<partition>\d+):(?P<offset>\d+)$")


@dataclass(frozen=True, order=True)
class LetterPosition:
    """Where a dead letter sits in the dead-letter topic."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class StoredLetter:
    position: LetterPosition
    letter: DeadLetter

    @property
    def source_position(self) -> tuple[str, int, int]:
        """The failed message's own position: redelivered failures of one message share it."""
        return self.letter.topic, self.letter.partition, self.letter.offset


@dataclass(frozen=True)
class Replay:
    """One record to publish: what, where, and which letter it comes from."""

    letter: StoredLetter
    topic: str
    key: bytes | None
    value: bytes
    fixed_event_id: str = ""  # set when the operator's payload replaced the original

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        headers: list[tuple[str, str | bytes | None]] = [
            (REPLAY_OF_HEADER, str(self.letter.position).encode())
        ]
        if self.fixed_event_id:
            headers.append((REPLAY_FIXED_HEADER, self.fixed_event_id.encode()))
        return headers


def parse_position(text: str, default_topic: str) -> LetterPosition:
    """``P:O`` (in the dead-letter topic) or ``TOPIC:P:O``."""
    match = _POSITION.match(text.strip())
    if match is None:
        raise InvalidInputError(f"bad dead-letter position {text!r}: expected PARTITION:OFFSET or TOPIC:P:O")
    return LetterPosition(
        match.group("topic") or default_topic, int(match.group("partition")), int(match.group("offset"))
    )


def decode_letters(messages: Iterable[Message]) -> tuple[list[StoredLetter], int]:
    """Dead letters in topic order (partition, offset), and how many records did not decode."""
    letters: list[StoredLetter] = []
    undecodable = 0
    for msg in messages:
        try:
            letter = wire.decode(msg.value, DeadLetter)
        except SchemaError:
            undecodable += 1
            continue
        letters.append(StoredLetter(LetterPosition(msg.topic, msg.partition, msg.offset), letter))
    letters.sort(key=lambda s: s.position)
    return letters, undecodable


def latest(letters: Sequence[StoredLetter], limit: int | None) -> list[StoredLetter]:
    """The ``limit`` most recent letters (by failure time), oldest first; all when ``limit`` is None."""
    ordered = sorted(letters, key=lambda s: (s.letter.failed_at_ms, s.position))
    if limit is None:
        return ordered
    return ordered[-limit:] if limit > 0 else []


def select(
    letters: Sequence[StoredLetter],
    *,
    positions: Sequence[LetterPosition] = (),
    stage: str | None = None,
) -> list[StoredLetter]:
    """The letters at ``positions`` (each must exist), or every letter when none are given.

    ``stage`` filters. Without positions, letters of the same failed message (at-least-once delivery
    can dead-letter a message twice) are taken once, so ``--all`` never replays a message twice.
    """
    if positions:
        by_position = {s.position: s for s in letters}
        missing = [str(p) for p in positions if p not in by_position]
        if missing:
            raise InvalidInputError(f"no dead letter at {', '.join(missing)}")
        chosen = [by_position[p] for p in dict.fromkeys(positions)]
        wrong = [str(s.position) for s in chosen if stage and s.letter.stage != stage]
        if wrong:
            raise InvalidInputError(f"{', '.join(wrong)} failed in another stage than {stage!r}")
        return chosen
    seen: set[tuple[str, int, int]] = set()
    chosen = []
    for s in letters:
        if (stage and s.letter.stage != stage) or s.source_position in seen:
            continue
        seen.add(s.source_position)
        chosen.append(s)
    return chosen


def stage_source_topic(stage: str, topics: TopicSettings) -> str:
    """The topic a stage consumes: where its failed input goes to be processed again."""
    if stage not in STAGES_BY_NAME:
        raise InvalidInputError(
            f"dead letter from unknown stage {stage!r}: expected one of {', '.join(STAGES_BY_NAME)}"
        )
    return topics.full(getattr(topics, STAGES_BY_NAME[stage].reads))


def fixed_event(letter: DeadLetter, payload: bytes) -> InboundEvent:
    """The operator's corrected ``payload`` as a new InboundEvent standing in for ``letter``'s original.

    Channel, content type, source and arrival time come from the original event when it decodes (so
    latency still counts from when the customer wrote); otherwise from the letter and the payload.
    The event id is a hash of the payload: replaying the same fix twice yields the same event.
    """
    if letter.stage != "normalize":
        raise InvalidInputError(
            f"--fix replaces raw inbound payloads; this letter failed in stage {letter.stage!r}, "
            "whose input is an internal record: replay it as is after deploying the fix"
        )
    if not payload.strip():
        raise InvalidInputError("the fixed payload is empty")
    event_id = "evt_fix_" + hashlib.sha1(payload).hexdigest()[:20]
    try:
        original = wire.decode(letter.original, InboundEvent)
    except SchemaError:
        channel = _channel(letter.channel) or sniff_json_channel(payload)
        if channel is None:
            raise InvalidInputError(
                "the original bytes are not an InboundEvent and neither the letter nor the fixed "
                "payload names a channel"
            ) from None
        return InboundEvent(
            event_id=event_id, channel=channel, received_at_ms=letter.failed_at_ms, payload=payload,
            source=letter.source or "dlq-fix",
        )  # fmt: skip
    return original.model_copy(update={"event_id": event_id, "payload": payload})


def _channel(name: str) -> Channel | None:
    try:
        return Channel(name) if name else None
    except ValueError:
        return None


def plan_replays(
    letters: Sequence[StoredLetter],
    topics: TopicSettings,
    fix: bytes | None = None,
    consumed: Collection[str] | None = None,
) -> list[Replay]:
    """What to publish for ``letters``; with ``fix``, exactly one letter, its payload replaced.

    ``consumed``: the topics the running topology reads. A letter whose stage's input topic is not
    among them (written by a per-stage deployment, replayed into a fused one) is refused rather than
    published where nothing would ever read it.
    """
    if fix is not None:
        if len(letters) != 1:
            raise InvalidInputError(f"--fix applies to exactly one dead letter, {len(letters)} selected")
        (stored,) = letters
        event = fixed_event(stored.letter, fix)
        # The original key was the event id (the payload did not parse); the fix parses, so key it by
        # conversation like any ingress event and it stays ordered with the rest of its conversation.
        replays = [
            Replay(stored, stage_source_topic("normalize", topics), ingress_key(event), wire.encode(event),
                   fixed_event_id=event.event_id)
        ]  # fmt: skip
    else:
        replays = [
            Replay(s, stage_source_topic(s.letter.stage, topics), s.letter.key, s.letter.original)
            for s in letters
        ]
    unread = {f"{r.letter.letter.stage} -> {r.topic}" for r in replays if r.topic not in (consumed or ())}
    if consumed is not None and unread:
        raise InvalidInputError(
            f"these letters replay to topics the configured topology does not consume ({', '.join(sorted(unread))}); "
            "replay them while per-stage workers run (SUPPORTFLOW_TOPOLOGY=per-stage)"
        )
    return replays


def describe(stored: StoredLetter) -> dict[str, Any]:
    """One letter as plain data, for ``dlq list`` (its message is bounded: it may quote input)."""
    letter = stored.letter
    return {
        "position": str(stored.position),
        "stage": letter.stage,
        "error_class": letter.error_class,
        "error_message": letter.error_message[:300],
        "source": letter.source,
        "channel": letter.channel,
        "original_bytes": len(letter.original),
        "failed_at_ms": letter.failed_at_ms,
        "from": f"{letter.topic}:{letter.partition}:{letter.offset}",
    }


# ---- I/O: the only functions that talk to the broker ----


def read_dead_letters(
    bootstrap: str, topic: str, idle_s: float = 1.0, timeout_s: float = 60.0
) -> tuple[list[StoredLetter], int]:
    """Every dead letter in ``topic`` with its position, and how many records did not decode.

    Like :func:`supportflow.streams.collect.read_to_end` (explicit assignment from offset 0, end =
    the high watermark carried by Fetch responses, never ListOffsets, which Tansu answers wrongly),
    but keeping each record's partition and offset, which name the letter for ``replay``.
    """
    try:
        return decode_letters(read_messages(bootstrap, topic, idle_s, timeout_s))
    except KafkaException as exc:
        raise TransientError(f"cannot read dead letters from {topic} on {bootstrap}: {exc}") from exc


def publish_replays(bootstrap: str, replays: Sequence[Replay], timeout_s: float = 30.0) -> int:
    """Publish and wait for every acknowledgement; raises :class:`TransientError` if any failed."""
    producer = kafka.producer(bootstrap, **{"linger.ms": 5})
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for replay in replays:
        producer.produce(replay.topic, key=replay.key, value=replay.value, headers=replay.headers(),
                         on_delivery=delivered)  # fmt: skip
        producer.poll(0)
    remaining = producer.flush(timeout_s)
    if remaining or errors:
        raise TransientError(f"{remaining} replays unacknowledged, {len(errors)} failed: {errors[:3]}")
    return len(replays)
