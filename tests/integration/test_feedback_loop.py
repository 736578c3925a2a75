"""The learning loop's feedback on the real embedded broker: every source, the join, the report.

One join process (``supportflow feedback join``) runs against topics of this test's own prefix. The
test produces outcomes, sends feedback through each source (signed Zendesk and Freshdesk webhooks and
``POST /feedback`` on the real ingress service over loopback HTTP, and a JSONL file), and waits on the
join's Prometheus endpoint until its counters say every feedback was joined.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from confluent_kafka import Producer

from supportflow.cli.main import main
from supportflow.connectors.feedback.publish import publish_file
from supportflow.connectors.feedback.webhook import FRESHDESK_TOKEN_HEADER, FeedbackConfig, zendesk_signature
from supportflow.connectors.webhook import KafkaEventSink, ServiceConfig, WebhookSettings, build_app
from supportflow.processors.feedback.join import freshdesk_link_tag
from supportflow.schemas import wire
from supportflow.schemas.models import Band, Channel, DeadLetter, Decision, Outcome, Tier
from supportflow.settings import FeedbackSettings, Settings
from supportflow.streams.collect import read_to_end
from supportflow.streams.embedded import free_port
from supportflow.streams.feedback import join_topics
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

FEEDBACK = FeedbackSettings(
    zendesk_webhook_secret="zd-secret", freshdesk_webhook_token="fd-token", agent_id_key="k"
)
API_KEY = "feedback-api-key"
SAMPLES = Path(__file__).parents[1] / "fakes" / "feedback"
DRAFT = "You can cancel any time from Settings > Subscription > Cancel."


def outcome(ticket_id: str, conversation_id: str, decision: Decision, intent: str) -> Outcome:
    band = {Decision.AUTO_RESOLVED: Band.AUTO, Decision.SUGGESTED: Band.SUGGEST}.get(decision, Band.ESCALATE)
    return Outcome(
        ticket_id=ticket_id, conversation_id=conversation_id, channel=Channel.EMAIL, decision=decision,
        intent=intent, confidence=0.9, band=band, tier=Tier.COMMODITY, answer=DRAFT, trace_id="t",
        decided_at_ms=int(time.time() * 1000),
    )  # fmt: skip


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(15) == 0


def scrape(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line.startswith("supportflow_feedback"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


async def start_ingress(bootstrap: str, settings: Settings) -> tuple[web.AppRunner, str]:
    t = settings.topics
    config = ServiceConfig(
        WebhookSettings(api_key=API_KEY, rate_per_s=0), t.full(t.ingress), 256_000,
        feedback=FeedbackConfig(FEEDBACK, t.full(t.feedback), t.full(t.dead_letter)),
    )  # fmt: skip
    runner = web.AppRunner(build_app(config, KafkaEventSink(bootstrap, delivery_timeout_s=10)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def zendesk_headers(body: bytes) -> dict[str, str]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": zendesk_signature(b"zd-secret", stamp, body),
    }  # fmt: skip


def kind_count(samples: dict[str, float], path: str, kind: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith("supportflow_feedback_total{")
               and f'path="{path}"' in k and f'kind="{kind}"' in k)  # fmt: skip


async def test_feedback_every_source_joined_once_and_csat_reported(
    broker, unique, tmp_path, monkeypatch, capsys
):
    prefix = unique("fb")
    env = {"SUPPORTFLOW_TOPICS__PREFIX": prefix, "SUPPORTFLOW_APP_ID": prefix, "SUPPORTFLOW_DATA_DIR": str(tmp_path),
           "SUPPORTFLOW_TOPICS__PARTITIONS": "2"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    t = settings.topics
    ensure_topics(broker.bootstrap, pipeline_topics(settings) + join_topics(settings))
    metrics_port = free_port()
    join = subprocess.Popen(
        [sys.executable, "-m", "supportflow.cli.main", "feedback", "join", "--broker", broker.bootstrap,
         "--embedded-quirks"],
        env={**os.environ, **env, "SUPPORTFLOW_METRICS_PORT": str(metrics_port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    runner, base = await start_ingress(broker.bootstrap, settings)
    try:
        # Feedback before its outcome: kept pending by the join, counted when the outcome comes.
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            early = {"ticket_id": "t-esc", "kind": "escalation_resolved", "agent_id": "agent-7"}
            async with http.post(f"{base}/feedback", json=early) as response:
                assert response.status == 202, await response.text()
        outcomes = [
            outcome("t-auto", "conv-zd-1", Decision.AUTO_RESOLVED, "refund_status"),
            outcome("t-sug", "conv-zd-2", Decision.SUGGESTED, "change_address"),
            outcome("t-fd", "chat-fd-1", Decision.SUGGESTED, "cancel_subscription"),
            outcome("t-esc", "conv-esc", Decision.ESCALATED, "billing_dispute"),
        ]
        produce(
            broker.bootstrap,
            t.full(t.outcomes),
            [(o.conversation_id.encode(), wire.encode(o)) for o in outcomes],
        )
        async with aiohttp.ClientSession() as http:
            for name in (
                "zendesk_status_reopened.json",
                "zendesk_comment_added.json",
                "zendesk_satisfaction_rating.json",
            ):
                body = (SAMPLES / name).read_bytes()
                async with http.post(
                    f"{base}/webhooks/zendesk/feedback", data=body, headers=zendesk_headers(body)
                ) as r:
                    assert (r.status, (await r.json())["status"]) == (200, "accepted"), name
            broken = b'{"type": "zen:event-type:ticket.comment_added", "detail": {}, "event": {}}'
            async with http.post(
                f"{base}/webhooks/zendesk/feedback", data=broken, headers=zendesk_headers(broken)
            ) as r:
                assert (await r.json())["status"] == "dead_lettered"
            for name in ("freshdesk_reply_sent.json", "freshdesk_csat.json"):
                doc = orjson.loads((SAMPLES / name).read_bytes())
                doc["freshdesk_webhook"]["ticket_tags"] = f"supportflow,{freshdesk_link_tag('chat-fd-1')}"
                headers = {FRESHDESK_TOKEN_HEADER: "fd-token", "Content-Type": "application/json"}
                async with http.post(
                    f"{base}/webhooks/freshdesk/feedback", data=orjson.dumps(doc), headers=headers
                ) as r:
                    assert (await r.json())["status"] == "accepted", name
        lines = tmp_path / "feedback.jsonl"
        lines.write_text(
            '{"ticket_id": "t-sug", "kind": "intent_correction", "corrected_intent": "delivery_address", "agent_id": "a-1"}\n'
            '{"ticket_id": "t-auto", "kind": "csat", "score": 2}\n'
            "this line is not json\n"
        )
        for _ in range(2):  # published twice: the join counts each feedback id once
            done = publish_file(lines, bootstrap=broker.bootstrap, feedback_topic=t.full(t.feedback),
                                dead_letter_topic=t.full(t.dead_letter), agent_key=b"k")  # fmt: skip
            assert (done.published, done.dead_lettered) == (2, 1)
        produce(broker.bootstrap, t.full(t.feedback), [(b"t-x", b"not a feedback record")])

        def joined_all() -> bool:
            s = scrape(metrics_port)
            return (
                s.get('supportflow_feedback_unjoined_total{reason="duplicate"}', 0) >= 2
                and sum(v for k, v in s.items() if k.startswith("supportflow_feedback_total{")) >= 8
            )

        wait_for(joined_all, 90, "the join to count 8 feedback and 2 duplicates")
        samples = scrape(metrics_port)
    finally:
        await runner.cleanup()
        join.send_signal(signal.SIGTERM)
        _out, err = join.communicate(timeout=30)
    assert sum(v for k, v in samples.items() if k.startswith("supportflow_feedback_total{")) == 8, (
        err.decode()[-2000:]
    )
    assert kind_count(samples, "auto", "reopened") == 1
    assert kind_count(samples, "escalated", "escalation_resolved") == 1
    assert kind_count(samples, "suggested", "draft_edited") == 2
    assert (
        samples[
            'supportflow_feedback_csat_ratings_total{intent="cancel_subscription",path="suggested",satisfied="true"}'
        ]
        == 1
    )
    letters = [wire.decode(v, DeadLetter) for _k, v in read_to_end(broker.bootstrap, t.full(t.dead_letter))]
    assert {(x.stage, x.original) for x in letters} >= {
        ("feedback", b"this line is not json"), ("feedback", b"not a feedback record"),
        ("feedback", b'{"type": "zen:event-type:ticket.comment_added", "detail": {}, "event": {}}'),
    }  # fmt: skip

    assert main(["feedback", "report", "--since", "1h", "--json", "--broker", broker.bootstrap]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["paths"]["auto"]["reopen_rate"] == 1.0 and report["paths"]["auto"]["csat"] == 0.0
    assert report["paths"]["suggested"]["corrections"] == 1 and report["paths"]["suggested"]["csat"] == 1.0
    assert report["feedback"] == 8 and report["unjoined"] == 0
