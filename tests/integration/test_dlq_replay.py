"""Poison input to fixed outcome on the real pipeline: malformed chat -> dead letter -> ``dlq replay --fix``.

One embedded broker and one real worker process stay up for the whole module, so the replay reaches
the same pipeline that dead-lettered the message. The CLI is driven through its own parser.
"""

import argparse
import json
import time

import pytest

from supportflow.cli import dlq as dlq_cli
from supportflow.processors.normalize import normalize
from supportflow.schemas import wire
from supportflow.schemas.models import Channel, InboundEvent, Outcome
from supportflow.settings import get_settings
from supportflow.streams.collect import Collected, OutcomeReader, read_to_end
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.harness import canary_event
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSION = "chs_dlq_replay"
CUSTOMER = {"id": "cus_0002", "email": "daniel.okafor@example.net"}
# A widget bug cut the webhook body short: not JSON, so normalize dead-letters it.
BROKEN = (
    b'{"type": "message", "session_id": "chs_dlq_replay", "message_id": "msg_dlq_1", "text": "How do I res'
)
FIXED = {"type": "message", "session_id": SESSION, "message_id": "msg_dlq_1", "customer": CUSTOMER,
         "text": "How do I reset my password?"}  # fmt: skip
# Same conversation, published after the replays: once it is decided, everything before it in the
# conversation's partition has been processed too (one key, one partition, in order).
SENTINEL = {"type": "message", "session_id": SESSION, "message_id": "msg_dlq_2", "sequence": 2,
            "customer": CUSTOMER, "text": "Also, how long does delivery to Germany take?"}  # fmt: skip


def _chat(payload: bytes, event_id: str) -> InboundEvent:
    return InboundEvent(event_id=event_id, channel=Channel.CHAT, received_at_ms=int(time.time() * 1000),
                        payload=payload, source="webhook:/chat")  # fmt: skip


def _ticket_id(chat: dict) -> str:
    (record,) = normalize(wire.encode(_chat(json.dumps(chat).encode(), "evt_probe")), 256_000)
    return record.ticket.ticket_id


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    dlq_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def _wait(reader: OutcomeReader, done, timeout_s: float, what: str) -> Collected:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reader.poll(0.2)
        if done(reader.collected):
            return reader.collected
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}: {reader.collected}")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    settings = get_settings()
    t = settings.topics
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        log = tmp_path_factory.mktemp("dlq-worker") / "worker-0.log"
        worker = WorkerProcess(broker.bootstrap, embedded=True, log_path=log)
        reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter))
        try:
            publish_events(broker.bootstrap, t.full(t.ingress), [canary_event()])
            _wait(reader, lambda c: c.total >= 1, 180, f"the canary (worker log: {log})")
            reader.start_window()
            yield broker.bootstrap, reader
        finally:
            reader.close()
            stop_all([worker])


def test_dlq_replay_fix_malformed_chat_gets_exactly_one_outcome(pipeline, tmp_path, capsys):
    bootstrap, reader = pipeline
    t = get_settings().topics
    publish_events(bootstrap, t.full(t.ingress), [_chat(BROKEN, "evt_dlq_broken")])
    collected = _wait(reader, lambda c: len(c.dead_letters) >= 1, 60, "the dead letter")
    (letter,) = collected.dead_letters
    assert (letter.stage, letter.error_class, letter.channel, letter.source) == (
        "normalize", "SchemaError", "chat", "webhook:/chat",
    )  # fmt: skip
    original = wire.decode(letter.original, InboundEvent)
    assert (original.event_id, original.payload) == ("evt_dlq_broken", BROKEN)

    capsys.readouterr()
    assert _cli("dlq", "list", "--broker", bootstrap, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 1
    (row,) = listed["dead_letters"]
    assert (row["stage"], row["error_class"], row["original_bytes"]) == (
        "normalize",
        "SchemaError",
        len(letter.original),
    )
    position = row["position"]

    fix = tmp_path / "fixed.json"
    fix.write_text(json.dumps(FIXED))
    assert _cli("dlq", "replay", "--broker", bootstrap, "--all", "--dry-run") == 0
    assert capsys.readouterr().out.startswith(f"would replay {position} (normalize) -> {t.full(t.ingress)}")
    for _ in range(2):  # an operator who replays twice must not answer the customer twice
        assert _cli("dlq", "replay", "--broker", bootstrap, "--offset", position, "--fix", str(fix)) == 0
        assert "fixed as evt_fix_" in capsys.readouterr().out
    publish_events(bootstrap, t.full(t.ingress), [_chat(json.dumps(SENTINEL).encode(), "evt_dlq_sentinel")])

    # Ticket ids come from the chat message id, so the pipeline's id is the one a direct parse gives.
    ticket_id = _ticket_id(FIXED)
    sentinel_id = _ticket_id(SENTINEL)
    collected = _wait(
        reader,
        lambda c: {ticket_id, sentinel_id} <= set(c.outcomes),
        90,
        "the replayed ticket and the sentinel",
    )
    assert collected.outcomes[ticket_id].channel == Channel.CHAT
    in_topic = [wire.decode(v, Outcome).ticket_id for _, v in read_to_end(bootstrap, t.full(t.outcomes))]
    assert in_topic.count(ticket_id) == 1, "the second replay was decided again"
    assert len(collected.dead_letters) == 1, "the fixed payload was dead-lettered"
