"""Webhook egress on the real embedded broker: redelivered outcomes and a killed worker never double-post."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from supportflow.connectors.egress import EgressRunner, EgressSettings, IdempotencyStore, build_dispatcher
from supportflow.schemas import wire
from supportflow.schemas.models import Decision, Outcome
from supportflow.streams.collect import OutcomeReader
from supportflow.streams.topics import TopicSpec, ensure_topics
from tests.fakes.crm_server import FakeCrmServer
from tests.unit.connectors.egress.builders import outcome

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4
TICKETS = 50
REDELIVERED = 10
DECISIONS = [Decision.AUTO_RESOLVED, Decision.SUGGESTED, Decision.ESCALATED]


def _topics(bootstrap: str, prefix: str) -> tuple[str, str]:
    outcomes, dead_letters = f"{prefix}.outcomes", f"{prefix}.deadletter"
    ensure_topics(
        bootstrap, [TopicSpec(outcomes, PARTITIONS, "test"), TopicSpec(dead_letters, PARTITIONS, "test")]
    )
    return outcomes, dead_letters


def _ticket_outcomes() -> list[Outcome]:
    return [
        outcome(DECISIONS[i % 3], ticket_id=f"tkt-{i:03d}", conversation_id=str(10_000 + i))
        for i in range(TICKETS)
    ]


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(15) == 0


def _outcome_records() -> list[tuple[bytes, bytes]]:
    """50 outcomes, then the first 10 again (an upstream redelivery), keyed by conversation like the gate."""
    tickets = _ticket_outcomes()
    return [(o.conversation_id.encode(), wire.encode(o)) for o in tickets + tickets[:REDELIVERED]]


def _committed_total(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(max(tp.offset, 0) for tp in committed)
    finally:
        consumer.close()


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def test_egress_webhook_redelivered_outcomes_post_exactly_once(broker, unique):
    outcomes_topic, dead_letter_topic = _topics(broker.bootstrap, unique("egress"))
    _produce(broker.bootstrap, outcomes_topic, [*_outcome_records(), (b"poison", b"not an outcome")])
    group = unique("egress-webhook")
    with FakeCrmServer() as server:
        settings = EgressSettings(
            webhook_url=server.webhook_url, webhook_secret=server.webhook_secret.decode()
        )
        stop = threading.Event()
        dispatcher = build_dispatcher("webhook", settings, IdempotencyStore(), stop=stop)
        runner = EgressRunner(dispatcher, broker.bootstrap, outcomes_topic, dead_letter_topic, group,
                              embedded_quirks=True)  # fmt: skip
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        try:
            _wait(lambda: runner.stats.consumed == TICKETS + REDELIVERED + 1, 60, "every message consumed")
        finally:
            stop.set()
            thread.join(30)
        posts = server.recorded("webhook")
    assert not thread.is_alive()
    span = posts[-1].at - posts[0].at  # server clock: the sequential deliver-then-commit loop's pace
    print(
        f"\negress webhook: {len(posts)} POSTs for {runner.stats.consumed} messages, first-to-last {span:.2f}s"
    )
    assert len(posts) == TICKETS and len({p.key for p in posts}) == TICKETS
    assert {p.json["ticket_id"] for p in posts} == {f"tkt-{i:03d}" for i in range(TICKETS)}
    assert all(p.status == 202 for p in posts)  # every signature verified by the receiver
    stats = runner.stats
    assert (stats.delivered, stats.duplicates, stats.dead_lettered) == (TICKETS, REDELIVERED, 1)
    assert _committed_total(broker.bootstrap, group, outcomes_topic) == TICKETS + REDELIVERED + 1
    reader = OutcomeReader(broker.bootstrap, outcomes_topic, dead_letter_topic)
    try:
        (dead,) = reader.wait_for(TICKETS + 1, timeout_s=20).dead_letters
    finally:
        reader.close()
    assert dead.stage == "egress:webhook" and dead.original == b"not an outcome" and dead.key == b"poison"


def test_egress_webhook_worker_killed_mid_stream_restarts_without_double_posting(broker, unique, tmp_path):
    prefix = unique("egress")
    outcomes_topic, _ = _topics(broker.bootstrap, prefix)
    _produce(broker.bootstrap, outcomes_topic, _outcome_records())
    group = unique("egress-webhook")
    procs: list[subprocess.Popen[bytes]] = []
    kill_at = 20

    def kill_first_worker_on_20th_post(rec) -> None:
        # Runs when the 20th POST arrives, before it is answered: the worker dies with a request in flight,
        # after 19 deliveries whose offsets may or may not have been committed.
        if rec.api == "webhook" and len(procs) == 1 and len(server.recorded("webhook")) == kill_at:
            procs[0].send_signal(signal.SIGKILL)

    with FakeCrmServer(on_request=kill_first_worker_on_20th_post) as server:
        env = {
            **os.environ,
            "SUPPORTFLOW_TOPICS__PREFIX": prefix,
            "SUPPORTFLOW_DATA_DIR": str(tmp_path),
            "SUPPORTFLOW_EGRESS__WEBHOOK_URL": server.webhook_url,
            "SUPPORTFLOW_EGRESS__WEBHOOK_SECRET": server.webhook_secret.decode(),
        }
        cmd = [sys.executable, "-m", "supportflow.cli.egress", "webhook", "--broker", broker.bootstrap,
               "--group", group, "--embedded-quirks"]  # fmt: skip

        def start() -> subprocess.Popen[bytes]:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            procs.append(proc)
            return proc

        first = start()
        assert first.wait(90) == -signal.SIGKILL, first.stderr.read().decode() if first.stderr else ""
        assert len(server.recorded("webhook")) == kill_at
        second = start()
        try:
            _wait(lambda: len(server.applied_keys) == TICKETS, 90, "all 50 tickets applied after the restart")
            _wait(lambda: _committed_total(broker.bootstrap, group, outcomes_topic) == TICKETS + REDELIVERED,
                  30, "every offset committed")  # fmt: skip
        finally:
            second.send_signal(signal.SIGTERM)
            out, err = second.communicate(timeout=30)
        posts = server.recorded("webhook")
    assert second.returncode == 0, err.decode()
    stats = json.loads(out)
    assert len({p.key for p in posts}) == TICKETS
    # Exactly one repeat: the request that was in flight at the kill (same Idempotency-Key, so the
    # receiver saw a replay). The 19 deliveries before it are in the SQLite store and were not re-sent.
    assert len(posts) == TICKETS + 1
    in_flight = posts[kill_at - 1]
    assert [p.key for p in posts].count(in_flight.key) == 2
    assert stats["dead_lettered"] == 0 and stats["delivered"] == TICKETS - (kill_at - 1)
