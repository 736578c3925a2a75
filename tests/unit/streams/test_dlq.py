"""Dead-letter selection, fix wrapping and replay planning, with real handlers and real parsers (no broker)."""

import argparse
import json

import pytest

from supportflow.cli import dlq as dlq_cli
from supportflow.processors.normalize import normalize
from supportflow.schemas import wire
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Channel, DeadLetter, InboundEvent, PipelineRecord
from supportflow.settings import Settings, TopicSettings
from supportflow.streams import dlq
from supportflow.streams.handlers import Message, Sink
from supportflow.streams.ingest import ingress_key
from supportflow.streams.topics import source_topics
from supportflow.streams.topology import STAGES_BY_NAME, Hop, run_hop
from tests.unit.helpers import StageStub

TOPICS = TopicSettings()
DLQ_TOPIC = TOPICS.full(TOPICS.dead_letter)
MAX_BODY = 256_000

GOOD_CHAT = {
    "type": "message", "session_id": "chs_dlq_1", "message_id": "msg_dlq_1",
    "customer": {"id": "cus_0002", "email": "daniel.okafor@example.net"},
    "text": "How do I reset my password?",
}  # fmt: skip
BROKEN_CHAT = b'{"type": "message", "session_id": "chs_dlq_1", "message_id": "msg_dlq_1", "text": "How do I'


def _event(payload: bytes, channel: Channel = Channel.CHAT, event_id: str = "evt_1") -> InboundEvent:
    return InboundEvent(event_id=event_id, channel=channel, received_at_ms=1_700_000_000_000,
                        payload=payload, source="webhook:/chat")  # fmt: skip


def _dead_letters_from_normalize(*raws: bytes, ingress_offset: int = 10) -> list[DeadLetter]:
    """Run the real normalize handler over ``raws`` and return the dead letters it emitted."""
    messages = [
        Message(TOPICS.full(TOPICS.ingress), 1, ingress_offset + i, b"evt-key", raw)
        for i, raw in enumerate(raws)
    ]
    hop = Hop((STAGES_BY_NAME["normalize"],))
    emits, _ = run_hop(
        hop, messages, StageStub(normalize=lambda raw: normalize(raw, MAX_BODY)), lambda t: False
    )
    return [wire.decode(e.value, DeadLetter) for e in emits if e.sink == Sink.DEAD_LETTER]


def _stored(letters: list[DeadLetter], partition: int = 0, first_offset: int = 0) -> list[Message]:
    return [
        Message(DLQ_TOPIC, partition, first_offset + i, dl.key, wire.encode(dl))
        for i, dl in enumerate(letters)
    ]


def test_decode_letters_keeps_positions_and_counts_foreign_records():
    letters = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)), b"not an event")
    messages = [*_stored(letters, partition=2, first_offset=5), Message(DLQ_TOPIC, 0, 0, None, b"junk")]
    stored, undecodable = dlq.decode_letters(messages)
    assert undecodable == 1
    assert [str(s.position) for s in stored] == [f"{DLQ_TOPIC}:2:5", f"{DLQ_TOPIC}:2:6"]
    assert stored[0].letter.channel == "chat" and stored[0].letter.source == "webhook:/chat"


def test_parse_position_short_and_full_forms_name_the_same_letter():
    assert dlq.parse_position("3:17", DLQ_TOPIC) == dlq.LetterPosition(DLQ_TOPIC, 3, 17)
    assert dlq.parse_position(f"{DLQ_TOPIC}:3:17", "other") == dlq.LetterPosition(DLQ_TOPIC, 3, 17)


@pytest.mark.parametrize("text", ["", "3", "a:b", "3:-1", "x:3:4:5"])
def test_parse_position_malformed_raises_invalid_input(text):
    with pytest.raises(InvalidInputError):
        dlq.parse_position(text, DLQ_TOPIC)


def test_select_all_takes_each_failed_message_once():
    (letter,) = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)))
    # At-least-once: the same ingress record dead-lettered twice (a worker died before committing).
    stored, _ = dlq.decode_letters(_stored([letter, letter]))
    assert len(stored) == 2
    assert [s.position.offset for s in dlq.select(stored)] == [0]


def test_select_positions_missing_or_other_stage_raise_invalid_input():
    stored, _ = dlq.decode_letters(_stored(_dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)))))
    with pytest.raises(InvalidInputError, match="no dead letter at"):
        dlq.select(stored, positions=[dlq.LetterPosition(DLQ_TOPIC, 0, 99)])
    with pytest.raises(InvalidInputError, match="another stage"):
        dlq.select(stored, positions=[stored[0].position], stage="route")
    assert dlq.select(stored, stage="route") == []


def _normalize_and_route_letters() -> tuple[list[DeadLetter], list[dlq.StoredLetter]]:
    """A broken chat event dead-lettered by normalize and a bad record by route, as stored letters."""
    bad = [Message(TOPICS.full(TOPICS.tickets), 0, 3, b"conv_9", b"\x00bad")]
    emits, _ = run_hop(Hop((STAGES_BY_NAME["route"],)), bad, StageStub(), lambda t: False)
    route_letters = [wire.decode(e.value, DeadLetter) for e in emits]
    normalize_letters = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)))
    stored, _ = dlq.decode_letters(_stored(normalize_letters + route_letters))
    return normalize_letters, stored


def test_plan_replays_verbatim_goes_to_the_failed_stages_source_topic_with_original_key_and_bytes():
    normalize_letters, stored = _normalize_and_route_letters()
    replays = dlq.plan_replays(dlq.select(stored), TOPICS)
    assert [(r.topic, r.key, r.value) for r in replays] == [
        (TOPICS.full(TOPICS.ingress), b"evt-key", normalize_letters[0].original),
        (TOPICS.full(TOPICS.tickets), b"conv_9", b"\x00bad"),
    ]
    assert replays[0].headers() == [(dlq.REPLAY_OF_HEADER, f"{DLQ_TOPIC}:0:0".encode())]


def test_plan_replays_stage_fused_topology_does_not_read_refused_with_the_topology_to_use():
    _, stored = _normalize_and_route_letters()
    fused = source_topics(Settings(topology="fused"))
    with pytest.raises(InvalidInputError, match=r"route -> supportflow\.tickets\.normalized.*per-stage"):
        dlq.plan_replays(dlq.select(stored), TOPICS, consumed=fused)
    (replay,) = dlq.plan_replays(dlq.select(stored, stage="normalize"), TOPICS, consumed=fused)
    assert replay.topic == TOPICS.full(TOPICS.ingress)
    per_stage = source_topics(Settings(topology="per-stage"))
    assert len(dlq.plan_replays(dlq.select(stored), TOPICS, consumed=per_stage)) == 2


def test_plan_replays_verbatim_replay_fails_the_same_way_again():
    (letter,) = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)))
    stored, _ = dlq.decode_letters(_stored([letter]))
    (replay,) = dlq.plan_replays(stored, TOPICS)
    (again,) = _dead_letters_from_normalize(replay.value)
    assert (again.error_class, again.error_message, again.original) == (
        letter.error_class, letter.error_message, letter.original,
    )  # fmt: skip


def test_plan_replays_fix_normalizes_to_the_messages_deterministic_ticket():
    (letter,) = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)))
    stored, _ = dlq.decode_letters(_stored([letter]))
    fixed = json.dumps(GOOD_CHAT).encode()
    first = dlq.plan_replays(stored, TOPICS, fix=fixed)
    second = dlq.plan_replays(stored, TOPICS, fix=fixed)
    assert first == second  # same fix, same bytes: a repeated replay is the same event
    (replay,) = first
    event = wire.decode(replay.value, InboundEvent)
    assert (event.channel, event.source, event.payload) == (Channel.CHAT, "webhook:/chat", fixed)
    assert event.received_at_ms == 1_700_000_000_000  # latency still counts from the customer's message
    assert replay.fixed_event_id == event.event_id and event.event_id.startswith("evt_fix_")
    assert replay.key == ingress_key(event)
    (record_out,) = normalize(replay.value, MAX_BODY)
    direct = normalize(wire.encode(_event(fixed)), MAX_BODY)[0]
    assert record_out.ticket.ticket_id == direct.ticket.ticket_id
    assert replay.key == direct.ticket.conversation_id.encode()


def test_fixed_event_original_not_an_event_uses_the_fixed_payloads_channel():
    (letter,) = _dead_letters_from_normalize(b"\xff\xfe raw garbage")
    assert letter.channel == ""
    event = dlq.fixed_event(letter, json.dumps(GOOD_CHAT).encode())
    assert event.channel == Channel.CHAT and event.received_at_ms == letter.failed_at_ms
    assert isinstance(normalize(wire.encode(event), MAX_BODY)[0], PipelineRecord)


def test_fixed_event_undecidable_channel_raises_invalid_input():
    (letter,) = _dead_letters_from_normalize(b"\xff\xfe raw garbage")
    with pytest.raises(InvalidInputError, match="channel"):
        dlq.fixed_event(letter, b"plain text, not JSON")


def test_plan_replays_fix_rejects_several_letters_and_non_normalize_stages():
    letters = _dead_letters_from_normalize(wire.encode(_event(BROKEN_CHAT)), wire.encode(_event(b"{")))
    stored, _ = dlq.decode_letters(_stored(letters))
    with pytest.raises(InvalidInputError, match="exactly one"):
        dlq.plan_replays(stored, TOPICS, fix=b"{}")
    route_letter = letters[0].model_copy(update={"stage": "route"})
    with pytest.raises(InvalidInputError, match="stage 'route'"):
        dlq.plan_replays(dlq.decode_letters(_stored([route_letter]))[0], TOPICS, fix=b"{}")
    with pytest.raises(InvalidInputError, match="empty"):
        dlq.plan_replays(stored[:1], TOPICS, fix=b"  \n")


def test_stage_source_topic_unknown_stage_raises_invalid_input():
    assert dlq.stage_source_topic("gate", TOPICS) == TOPICS.full(TOPICS.resolved)
    with pytest.raises(InvalidInputError, match="unknown stage"):
        dlq.stage_source_topic("egress", TOPICS)


def test_latest_keeps_the_most_recent_in_failure_order():
    base = _dead_letters_from_normalize(b"x")[0]
    letters = [base.model_copy(update={"failed_at_ms": t}) for t in (30, 10, 20)]
    stored, _ = dlq.decode_letters(_stored(letters))
    assert [s.letter.failed_at_ms for s in dlq.latest(stored, 2)] == [20, 30]
    assert dlq.latest(stored, 0) == [] and len(dlq.latest(stored, None)) == 3


def test_describe_bounds_the_message_and_reports_sizes():
    letter = _dead_letters_from_normalize(b"x" * 50)[0].model_copy(update={"error_message": "e" * 1000})
    (stored,), _ = dlq.decode_letters(_stored([letter]))
    described = dlq.describe(stored)
    assert len(described["error_message"]) == 300 and described["original_bytes"] == 50
    assert described["from"] == f"{TOPICS.full(TOPICS.ingress)}:1:10"


def test_cli_parser_replay_needs_all_or_offsets():
    parser = argparse.ArgumentParser()
    dlq_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dlq", "replay", "--offset", "1:2", "0:5", "--fix", "f.json", "--dry-run"])
    assert args.offset == ["1:2", "0:5"] and args.fix == "f.json" and args.func is dlq_cli.cmd_replay
    with pytest.raises(SystemExit):
        parser.parse_args(["dlq", "replay", "--all", "--offset", "1:2"])
    with pytest.raises(SystemExit):
        parser.parse_args(["dlq", "replay"])
