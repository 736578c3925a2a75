"""``supportflow feedback publish FILE``: JSON Lines of feedback records onto the feedback topic.

Each line is one record in the ``POST /feedback`` shape (docs/learning.md). A line that cannot become
feedback goes to the dead-letter topic with its original bytes, the file and line number, and the
reason; the others are published. Ids are derived from the record when it has none, so publishing the
same file twice is counted once by the join.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from confluent_kafka import KafkaError, Message

from supportflow.connectors.feedback.webhook import dead_letter
from supportflow.processors.feedback.parse import api_feedback
from supportflow.processors.feedback.records import FeedbackError
from supportflow.schemas import wire
from supportflow.schemas.errors import TransientError
from supportflow.schemas.models import DeadLetter, Feedback
from supportflow.streams import kafka

FLUSH_TIMEOUT_S = 30.0


@dataclass
class Parsed:
    records: list[Feedback] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)


def parse_lines(lines: Iterable[bytes], *, origin: str, agent_key: bytes | None, now_ms: int) -> Parsed:
    parsed = Parsed()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise FeedbackError(f"line {number} is not valid UTF-8 JSON: {exc}") from exc
            parsed.records.append(
                api_feedback(doc, source="file", received_at_ms=now_ms, agent_key=agent_key)
            )
        except FeedbackError as exc:
            letter = dead_letter(line.rstrip(b"\r\n"), exc, source="file", origin=origin, now_ms=now_ms)
            parsed.letters.append(letter.model_copy(update={"offset": number}))
    return parsed


@dataclass(frozen=True)
class Published:
    published: int
    dead_lettered: int


def publish_file(
    path: Path, *, bootstrap: str, feedback_topic: str, dead_letter_topic: str, agent_key: bytes | None
) -> Published:
    """Publish every line of ``path``; returns the counts once the broker acknowledged all of them."""
    with path.open("rb") as lines:
        parsed = parse_lines(
            lines, origin=f"file:{path.name}", agent_key=agent_key, now_ms=int(time.time() * 1000)
        )
    producer = kafka.producer(bootstrap, **{"linger.ms": 20})
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    for fb in parsed.records:
        producer.produce(
            feedback_topic, key=fb.ticket_id.encode(), value=wire.encode(fb), on_delivery=delivered
        )
        producer.poll(0)
    for letter in parsed.letters:
        producer.produce(dead_letter_topic, key=None, value=wire.encode(letter), on_delivery=delivered)
    if producer.flush(FLUSH_TIMEOUT_S) or failures:
        raise TransientError(f"the broker did not acknowledge every record: {failures[:1] or 'timeout'}")
    return Published(len(parsed.records), len(parsed.letters))
