"""The learning loop's feedback on the real embedded broker: every source, the join, the report.

One join process (``supportflow feedback join``) runs against topics of this test's own prefix. The
test produces outcomes, sends feedback through each source (signed Zendesk and Freshdesk webhooks and
``POST /feedback`` on the real ingress service over loopback HTTP, and a JSONL file), and waits on the
join's Prometheus endpoint until its counters say every feedback was joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from supportflow.settings import FeedbackSettings, Settings, get_settings
from supportflow.streams.collect import read_to_end
from supportflow.streams.embedded import free_port
from supportflow.streams.feedback import join_topics
from supportflow.streams.topics import ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration]

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


@dataclass
class Run:
    """What one pass of every source through the join left behind."""

    samples: dict[str, float]
    letters: list[DeadLetter]
    report: dict[str, Any]
    join_log: str


async def _every_source(bootstrap: str, tmp_path: Path) -> Run:
    prefix = f"fb-{uuid.uuid4().hex[:8]}"
    env = {"SUPPORTFLOW_TOPICS__PREFIX": prefix, "SUPPORTFLOW_APP_ID": prefix, "SUPPORTFLOW_DATA_DIR": str(tmp_path),
           "SUPPORTFLOW_TOPICS__PARTITIONS": "2"}  # fmt: skip
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()  # the report command reads this test's topics through get_settings()
    try:
        return await _run_sources(bootstrap, tmp_path, env)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


async def _run_sources(bootstrap: str, tmp_path: Path, env: dict[str, str]) -> Run:
    settings = Settings()
    t = settings.topics
    ensure_topics(bootstrap, pipeline_topics(settings) + join_topics(settings))
    metrics_port = free_port()
    join = subprocess.Popen(
        [sys.executable, "-m", "supportflow.cli.main", "feedback", "join", "--broker", bootstrap,
         "--embedded-quirks"],
        env={**os.environ, **env, "SUPPORTFLOW_METRICS_PORT": str(metrics_port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    runner, base = await start_ingress(bootstrap, settings)
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
            bootstrap,
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
            done = publish_file(lines, bootstrap=bootstrap, feedback_topic=t.full(t.feedback),
                                dead_letter_topic=t.full(t.dead_letter), agent_key=b"k")  # fmt: skip
            assert (done.published, done.dead_lettered) == (2, 1)
        produce(bootstrap, t.full(t.feedback), [(b"t-x", b"not a feedback record")])

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
    letters = [wire.decode(v, DeadLetter) for _k, v in read_to_end(bootstrap, t.full(t.dead_letter))]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # main() reconfigures stdout: a real stream
    with contextlib.redirect_stdout(out):
        assert main(["feedback", "report", "--since", "1h", "--json", "--broker", bootstrap]) == 0
    out.flush()
    return Run(samples, letters, json.loads(out.buffer.getvalue()), err.decode()[-2000:])


@pytest.fixture(scope="module")
def run(broker, tmp_path_factory) -> Run:
    """One join process, every source once (the file twice), waited on through the join's metrics."""
    return asyncio.run(_every_source(broker.bootstrap, tmp_path_factory.mktemp("feedback")))


def test_feedback_every_source_joined_exactly_once(run: Run) -> None:
    total = sum(v for k, v in run.samples.items() if k.startswith("supportflow_feedback_total{"))
    assert total == 8, run.join_log
    assert run.report["feedback"] == 8 and run.report["unjoined"] == 0


def test_feedback_zendesk_webhook_reopen_and_reply_joined_to_their_path(run: Run) -> None:
    assert kind_count(run.samples, "auto", "reopened") == 1
    assert (
        kind_count(run.samples, "suggested", "draft_edited") == 2
    )  # the Zendesk reply and the Freshdesk one


def test_feedback_freshdesk_webhook_csat_joined_by_its_link_tag(run: Run) -> None:
    key = 'supportflow_feedback_csat_ratings_total{intent="cancel_subscription",path="suggested",satisfied="true"}'
    assert run.samples[key] == 1


def test_feedback_api_before_its_outcome_is_kept_then_joined(run: Run) -> None:
    assert kind_count(run.samples, "escalated", "escalation_resolved") == 1


def test_feedback_file_published_twice_counted_once(run: Run) -> None:
    assert run.samples.get('supportflow_feedback_unjoined_total{reason="duplicate"}', 0) >= 2
    assert run.report["paths"]["suggested"]["corrections"] == 1


def test_feedback_bad_records_dead_lettered_with_original_bytes(run: Run) -> None:
    assert {(x.stage, x.original) for x in run.letters} >= {
        ("feedback", b"this line is not json"), ("feedback", b"not a feedback record"),
        ("feedback", b'{"type": "zen:event-type:ticket.comment_added", "detail": {}, "event": {}}'),
    }  # fmt: skip


def test_csat_report_by_path_matches_the_ratings_sent(run: Run) -> None:
    paths = run.report["paths"]
    assert paths["auto"]["reopen_rate"] == 1.0 and paths["auto"]["csat"] == 0.0
    assert paths["suggested"]["csat"] == 1.0
