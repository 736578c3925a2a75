"""Conversations on the real embedded broker: the thread survives a worker restart.

The conversation state lives in a Faust table backed by a changelog topic. A new worker must recover it
before deciding the next message, despite Tansu's ListOffsets defects (its "earliest" can skip records,
its "latest" stops at the last batch's start): the worker recovers from offset 0 to the high watermark
Fetch responses report (``streams/transport.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from supportflow.data import data_path
from supportflow.schemas.models import Channel, Decision, InboundEvent
from supportflow.settings import get_settings
from supportflow.streams.collect import OutcomeReader
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.harness import wait_ready
from supportflow.streams.ingest import publish_events
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CONVERSATIONS = 24


def _customers(n: int) -> list[dict[str, str]]:
    fixture = json.loads(data_path("crm", "customers.json").read_text())
    people = [c for c in fixture["customers"] if not c.get("vip") and c.get("email")]
    return [{"email": c["email"], "name": c["name"]} for c in people[:n]]


def _event(run: str, i: int, turn: int, text: str, who: dict[str, str]) -> InboundEvent:
    body = {"ticket_id": f"{run}-{i}-{turn}", "conversation_id": f"{run}-conv-{i}", "text": text, **who}
    return InboundEvent(event_id=f"{run}-{i}-{turn}", channel=Channel.API, received_at_ms=0,
                        payload=json.dumps(body).encode(), source="test")  # fmt: skip


def _worker(bootstrap: str, log: Path) -> WorkerProcess:
    return WorkerProcess(bootstrap, embedded=True, log_path=log)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_conversation_state_survives_worker_restart(how, tmp_path):
    """sigterm: the worker commits on the way out, so the next one has only the changelog to go by;
    sigkill: whatever it had not committed is decided again, and the state must still come out right."""
    settings = get_settings()
    t = settings.topics
    run = f"conv{int(time.time())}"
    people = _customers(CONVERSATIONS)
    first = [_event(run, i, 1, "How long does standard delivery take?", p) for i, p in enumerate(people)]
    second = [
        _event(run, i, 2, "That didn't help at all, this is the second time I'm asking.", p)
        for i, p in enumerate(people)
    ]
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        reader = OutcomeReader(broker.bootstrap, t.full(t.outcomes), t.full(t.dead_letter),
                               since_ms=int(time.time() * 1000))  # fmt: skip
        workers = [_worker(broker.bootstrap, tmp_path / "first.log")]
        try:
            wait_ready(broker.bootstrap, settings, workers, reader, quiet=True, log_dir=tmp_path)
            publish_events(broker.bootstrap, t.full(t.ingress), first)
            reader.wait_for(CONVERSATIONS, timeout_s=120)
            if how == "sigkill":
                workers[0].kill()
            else:
                workers[0].stop()
            workers.append(_worker(broker.bootstrap, tmp_path / "restarted.log"))
            publish_events(broker.bootstrap, t.full(t.ingress), second)
            collected = reader.wait_for(2 * CONVERSATIONS, timeout_s=180)
        finally:
            reader.close()
            stop_all(workers)
    by_source = {o.external_id: o for o in collected.outcomes.values()}  # the API ticket_id we sent
    replies = [by_source.get(f"{run}-{i}-2") for i in range(CONVERSATIONS)]
    assert all(r is not None for r in replies), "a second message got no outcome"
    assert [r.turn for r in replies if r] == [2] * CONVERSATIONS
    for reply in replies:
        assert reply is not None
        assert reply.decision is Decision.ESCALATED and "conversation:not_helped" in reply.reasons
        assert "standard delivery" in reply.transcript[0].text
