"""Shadow mode on the embedded broker: a live worker and a shadow worker with a candidate policy decide
the bundled samples; the shadow writes only outcomes.shadow; ``eval shadow`` compares them (feedback
included); ``shadow replay`` re-decides the window with another candidate."""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from supportflow.cli.main import main
from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels import expected_fates
from supportflow.schemas import wire
from supportflow.schemas.models import AuditEvent, Feedback, FeedbackKind, Outcome
from supportflow.settings import get_settings
from supportflow.streams import kafka
from supportflow.streams.collect import OutcomeReader, read_to_end
from supportflow.streams.embedded import EmbeddedBroker
from supportflow.streams.harness import wait_ready
from supportflow.streams.ingest import publish_events
from supportflow.streams.runtime import artifact_version
from supportflow.streams.shadow import shadow_settings
from supportflow.streams.supervisor import WorkerProcess, stop_all
from supportflow.streams.topics import TopicSpec, ensure_topics, pipeline_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def candidate_policy(tmp_path, name, changes):
    """The shipped policy with some intents' bands changed."""
    text = data_path("router", "policy.yaml").read_text()
    for intent, (old, new) in changes.items():
        line = f"  {intent}: {{band: {old},"
        assert line in text, line
        text = text.replace(line, f"  {intent}: {{band: {new},")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _wait_for(reader, ticket_ids, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while set(ticket_ids) - reader.collected.outcomes.keys() and time.monotonic() < deadline:
        reader.poll()
    return reader.collected.outcomes


def _eval_json(capsys, *args):
    capsys.readouterr()
    code = main(["eval", "shadow", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_shadow_worker_and_report_compare_live_with_candidate(tmp_path, capsys):
    settings = get_settings()
    shadow = shadow_settings(settings)
    t, st = settings.topics, shadow.topics
    cautious = candidate_policy(tmp_path, "cautious", {"track_order": ("auto", "suggest")})
    events = list(events_from_path(data_path("samples")))
    plan = expected_fates(events)
    with EmbeddedBroker() as broker:
        boot = broker.bootstrap
        specs = pipeline_topics(settings)
        if t.full(t.feedback) not in {s.name for s in specs}:
            specs.append(TopicSpec(t.full(t.feedback), t.partitions, "feedback"))
        ensure_topics(boot, specs)
        ensure_topics(boot, pipeline_topics(shadow))  # the shadow worker would create them as it starts
        live_worker = WorkerProcess(boot, embedded=True, log_path=tmp_path / "live.log")
        shadow_worker = WorkerProcess(boot, embedded=True, log_path=tmp_path / "shadow.log",
                                      env={"SUPPORTFLOW_SHADOW": "true", "SUPPORTFLOW_POLICY_PATH": str(cautious)})  # fmt: skip
        live = OutcomeReader(boot, t.full(t.outcomes), t.full(t.dead_letter))
        try:
            wait_ready(boot, settings, [live_worker], live, quiet=True, log_dir=tmp_path)
            started = datetime.now(UTC).isoformat()
            publish_events(boot, t.full(t.ingress), events)
            live_outcomes = _wait_for(live, plan.ticket_ids)
            with_shadow = OutcomeReader(boot, st.full(st.outcomes), st.full(st.dead_letter))
            shadow_outcomes = _wait_for(with_shadow, plan.ticket_ids)
            with_shadow.close()
        finally:
            live.close()
            stop_all([live_worker, shadow_worker])
        changed = [k for k in plan.ticket_ids if live_outcomes[k].decision != shadow_outcomes[k].decision]
        assert changed, "the candidate changed no decision: the comparison proves nothing"
        # An agent sent the live draft of a changed ticket unchanged: the shadow held it, too cautious.
        feedback = Feedback(feedback_id=uuid.uuid4().hex, ticket_id=changed[0], kind=FeedbackKind.DRAFT_SENT_UNCHANGED,
                            source="api", occurred_at_ms=int(time.time() * 1000))  # fmt: skip
        producer = kafka.producer(boot)
        producer.produce(t.full(t.feedback), key=changed[0].encode(), value=wire.encode(feedback))
        assert producer.flush(10) == 0
        code, report = _eval_json(capsys, "--broker", boot, "--plots", str(tmp_path / "plots"))
        # Replay the same window with another candidate: the report now compares against it.
        generous = candidate_policy(tmp_path, "generous", {"get_refund": ("suggest", "auto")})
        replay = main(["shadow", "replay", "--broker", boot, "--from", started, "--policy", str(generous),
                       "--kb-in-memory"])  # fmt: skip
        replay_code, replayed = _eval_json(capsys, "--broker", boot, "--since", "10m")
        live_records = [wire.decode(v, Outcome) for _k, v in read_to_end(boot, t.full(t.outcomes))]
        promote = main(["shadow", "promote", "--broker", boot, "--router", str(data_path("router")),
                        "--policy", str(cautious), "--reason", "fewer reopened track_order answers"])  # fmt: skip
        audits = [wire.decode(v, AuditEvent) for _k, v in read_to_end(boot, t.full(t.audit))]
    cautious_version = artifact_version(cautious)
    assert {o.policy_version for o in shadow_outcomes.values()} == {cautious_version}
    assert cautious_version not in {o.policy_version for o in live_records}, "shadow wrote to live outcomes"
    assert len(live_records) == len({o.ticket_id for o in live_records})
    decided = len(plan.ticket_ids) + 1  # and the canary wait_ready sent
    assert code == 0 and report["joined"] == decided
    assert report["transitions"].get("auto_resolved -> suggested", 0) >= 1
    assert report["by_intent"]["track_order"]["shadow_auto"] == 0
    assert report["verdicts"] == {"live": 1}
    router_version = live_records[0].router_version
    assert report["shadow_versions"] == {f"{router_version} + {cautious_version}": decided}
    assert (tmp_path / "plots" / "auto_rate_by_intent.png").stat().st_size > 0
    assert replay == 0 and replay_code == 0
    # The replay started after the canary: it re-decided every sample, the canary kept its shadow outcome.
    assert replayed["shadow_versions"] == {
        f"{router_version} + {artifact_version(generous)}": len(plan.ticket_ids),
        f"{router_version} + {cautious_version}": 1,
    }
    # Live audit events name the live policy; the promotion is on record with the candidate's.
    (promotion,) = [a for a in audits if a.ticket_id.startswith("promotion-")]
    assert promote == 0 and promotion.policy_version == cautious_version
    live_policy = artifact_version(data_path("router", "policy.yaml"))
    assert {a.policy_version for a in audits if a is not promotion} == {live_policy}
