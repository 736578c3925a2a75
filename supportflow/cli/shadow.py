"""``supportflow eval shadow``, ``supportflow shadow replay`` and ``supportflow shadow promote``.

The shadow worker itself is ``supportflow worker --shadow`` (``supportflow.streams.shadow``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.console import err

if TYPE_CHECKING:
    from supportflow.evals.shadow import ShadowReport
    from supportflow.schemas.models import AuditEvent, InboundEvent
    from supportflow.settings import Settings

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


def duration_s(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def time_ms(text: str, now_ms: int | None = None) -> int:
    """``now``, a duration ago (``7d``) or an ISO 8601 time (UTC unless it names a zone) in epoch ms."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if text.strip() == "now":
        return now
    if _DURATION.match(text.strip()):
        return now - int(duration_s(text) * 1000)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T09:00), a duration ago (7d) or now"
        ) from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_artifacts(settings: Settings, router: Path | None, policy: Path | None) -> Settings:
    paths = {k: v for k, v in (("router_path", router), ("policy_path", policy)) if v is not None}
    return settings.model_copy(update=paths) if paths else settings


def cmd_eval_shadow(args: argparse.Namespace) -> int:
    from supportflow.evals.shadow import compare, feedback_by_ticket, outcomes_by_ticket, render, write_plots
    from supportflow.settings import get_settings
    from supportflow.streams.collect import read_to_end

    target = resolve(args, "eval shadow")
    if target is None:
        return 2
    t = get_settings().topics
    since_ms = int(time.time() * 1000 - args.since * 1000) if args.since else 0

    def values(topic: str) -> list[bytes]:
        return [v for _k, v in read_to_end(target.bootstrap, t.full(topic))]

    live = outcomes_by_ticket(values(t.outcomes))
    shadow = outcomes_by_ticket(values(t.outcomes_shadow), since_ms=since_ms, keep="latest")
    report = compare(live, shadow, feedback_by_ticket(values(t.feedback)))
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(render(report))
    if args.plots:
        for path in write_plots(report, args.plots):
            err(f"wrote {path}")
    if not report.joined:
        err(f"no ticket decided by both {t.full(t.outcomes)} and {t.full(t.outcomes_shadow)}"
            + (f" in the last {args.since:g} s" if args.since else ""))  # fmt: skip
        return 1
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from supportflow.connectors.crm import open_crm
    from supportflow.settings import get_settings
    from supportflow.streams import kafka
    from supportflow.streams.runtime import Runtime
    from supportflow.streams.shadow import check_isolated, read_window, replay_window, shadow_settings
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    target = resolve(args, "shadow replay")
    if target is None:
        return 2
    live = with_artifacts(get_settings(), args.router, args.policy)
    settings = shadow_settings(live)
    check_isolated(live, settings)
    t = settings.topics
    from_ms, to_ms = args.from_ms, args.to_ms
    if from_ms > to_ms:
        err(f"--from {_iso(from_ms)} is after --to {_iso(to_ms)}")
        return 2
    outcomes_topic = t.full(t.outcomes)
    ensure_topics(target.bootstrap, [s for s in pipeline_topics(settings) if s.name == outcomes_topic])
    records = read_window(target.bootstrap, t.full(t.ingress), from_ms, to_ms, time_index=not target.embedded)
    err(
        f"read {len(records)} ingress records from {_iso(from_ms)} to {_iso(to_ms)}; loading the router and policy..."
    )
    runtime = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=args.kb_in_memory)
    producer = kafka.producer(target.bootstrap, **{"linger.ms": 5})

    def produce(key: bytes | None, value: bytes) -> None:
        producer.produce(outcomes_topic, key=key, value=value)
        producer.poll(0)

    result = replay_window(records, settings, runtime, produce)
    remaining = producer.flush(30)
    if remaining:
        err(f"{remaining} outcomes not acknowledged by {target.bootstrap}")
        return 1
    v = runtime.versions
    print(f"replayed {result.read} ingress records: {result.outcomes} outcomes to {outcomes_topic} "
          f"({result.dead_letters} dead-lettered, not written) by {v['router_version']} + {v['policy_version']}")  # fmt: skip
    print("compare: supportflow eval shadow")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from supportflow.data import data_path
    from supportflow.processors.embedding import shipped_router_path
    from supportflow.processors.router import IntentRouter, load_policy
    from supportflow.schemas import wire
    from supportflow.settings import get_settings
    from supportflow.streams import kafka
    from supportflow.streams.runtime import artifact_version

    target = resolve(args, "shadow promote")
    if target is None:
        return 2
    settings = get_settings()
    IntentRouter.load(args.router)  # refuse what a worker would refuse, before it is on record
    load_policy(args.policy)
    old_router = artifact_version(settings.router_path or shipped_router_path(settings.embedding_model))
    old_policy = artifact_version(settings.policy_path or data_path("router", "policy.yaml"))
    event = promotion_event(
        artifact_version(args.router), artifact_version(args.policy), old_router, old_policy, args.reason
    )
    t = settings.topics
    producer = kafka.producer(target.bootstrap)
    producer.produce(t.full(t.audit), key=event.ticket_id.encode(), value=wire.encode(event))
    if producer.flush(30):
        err(f"the promotion record was not acknowledged by {target.bootstrap}: nothing is on record")
        return 1
    print(f"promoted {event.router_version} + {event.policy_version} "
          f"(was {old_router} + {old_policy}); on record as {event.ticket_id} in {t.full(t.audit)}")  # fmt: skip
    print("set on the live workers, then roll them (Helm: config.extraEnv):")
    print(f"  SUPPORTFLOW_ROUTER_PATH={args.router.resolve()}")
    print(f"  SUPPORTFLOW_POLICY_PATH={args.policy.resolve()}")
    return 0


def promotion_event(router: str, policy: str, old_router: str, old_policy: str, reason: str) -> AuditEvent:
    """The audit record of a promotion (``supportflow audit promotion-...`` shows it): an AuditEvent
    whose versions are the promoted ones, reasons ``promotion:*``, the reason as its output."""
    from supportflow.schemas.models import AuditEvent, Channel, Decision

    ident = uuid.uuid4().hex[:12]
    return AuditEvent(
        ticket_id=f"promotion-{ident}", trace_id=uuid.uuid4().hex, conversation_id="promotion",
        channel=Channel.API, decided_at_ms=int(time.time() * 1000), decision=Decision.CLOSED,
        reasons=["promotion", f"promotion:router:{old_router}->{router}",
                 f"promotion:policy:{old_policy}->{policy}", f"promotion:by:{getpass.getuser()}"],
        model_output=reason, router_version=router, policy_version=policy,
    )  # fmt: skip


def add_eval_parser(evals: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = evals.add_parser(
        "shadow", help="compare live and shadow outcomes: agreement, automatic rate, changes, feedback",
        description="Join the live outcomes and the shadow outcomes (supportflow worker --shadow, supportflow "
        "shadow replay) by ticket id and report how the candidate would have decided differently.",
    )  # fmt: skip
    add_broker_option(p)
    p.add_argument("--since", type=duration_s, metavar="DURATION",
                   help="only shadow outcomes decided in the last DURATION (30m, 24h, 7d; default: all)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--plots", type=Path, metavar="DIR", help="write auto_rate_by_intent.png and transitions.png"
    )
    p.set_defaults(func=cmd_eval_shadow)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shadow = sub.add_parser("shadow", help="replay past traffic through a candidate; promote a candidate")
    commands = shadow.add_subparsers(dest="shadow_command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "replay", help="re-decide a past window of ingress with a candidate, into outcomes.shadow",
        description="Read the ingress records written between --from and --to (still in Kafka retention), "
        "decide them in this process with the candidate router and policy, and write the outcomes to "
        "outcomes.shadow (audit events and dead letters are not written). Then: supportflow eval shadow.",
    )  # fmt: skip
    add_broker_option(p)
    p.add_argument("--from", dest="from_ms", type=time_ms, required=True, metavar="TIME",
                   help="start: ISO 8601 (UTC unless zoned), a duration ago (7d) or now")  # fmt: skip
    p.add_argument(
        "--to", dest="to_ms", type=time_ms, default="now", metavar="TIME", help="end (default: now)"
    )
    p.add_argument(
        "--router", type=Path, metavar="DIR", help="candidate router (default: the configured one)"
    )
    p.add_argument(
        "--policy", type=Path, metavar="FILE", help="candidate policy (default: the configured one)"
    )
    p.add_argument("--kb-in-memory", action="store_true", help="index the bundled help center in memory")
    p.set_defaults(func=cmd_replay)
    p = commands.add_parser(
        "promote", help="put a candidate router and policy on record in the audit topic; print what to set",
        description="Check that the candidate loads, write a promotion record (both versions, the ones it "
        "replaces, who, why) to the audit topic, and print the settings to give the live workers. It does "
        "not change a running deployment: rolling the workers with those settings does.",
    )  # fmt: skip
    add_broker_option(p)
    p.add_argument("--router", type=Path, required=True, metavar="DIR", help="router artifact to promote")
    p.add_argument("--policy", type=Path, required=True, metavar="FILE", help="policy YAML to promote")
    p.add_argument("--reason", default="", help="why (kept in the record)")
    p.set_defaults(func=cmd_promote)


def demo_with_shadow(
    events: list[InboundEvent], router: Path | None, policy: Path | None, *, timeout_s: float, keep_logs: bool
) -> tuple[dict[str, Any], ShadowReport]:
    """``supportflow demo --shadow-policy/--shadow-router``: ``events`` through a live worker and a
    shadow worker with the candidate, both on one embedded broker; the demo summary of the live run
    and the comparison."""
    from supportflow.cli.demo import demo_summary
    from supportflow.evals.shadow import compare
    from supportflow.processors.channels import expected_fates
    from supportflow.settings import get_settings
    from supportflow.streams.collect import OutcomeReader
    from supportflow.streams.harness import WorkerLogs, running_pipeline, wait_ready
    from supportflow.streams.ingest import publish_events
    from supportflow.streams.shadow import shadow_settings
    from supportflow.streams.supervisor import WorkerProcess, stop_all
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    settings = get_settings()
    st = shadow_settings(settings).topics
    env = {"SUPPORTFLOW_SHADOW": "true"}
    env |= {"SUPPORTFLOW_ROUTER_PATH": str(router.resolve())} if router else {}
    env |= {"SUPPORTFLOW_POLICY_PATH": str(policy.resolve())} if policy else {}
    plan = expected_fates(events)
    with (
        WorkerLogs("supportflow-demo-", keep=keep_logs) as logs,
        running_pipeline(settings, logs) as pipe,
    ):
        ensure_topics(pipe.bootstrap, pipeline_topics(shadow_settings(settings)))
        candidate = WorkerProcess(
            pipe.bootstrap, embedded=pipe.embedded, env=env, log_path=logs.path / "shadow.log"
        )
        shadow = OutcomeReader(pipe.bootstrap, st.full(st.outcomes), st.full(st.dead_letter))
        try:
            wait_ready(pipe.bootstrap, settings, pipe.workers, pipe.reader, quiet=False, log_dir=logs.path)
            start = time.monotonic()
            publish_events(pipe.bootstrap, pipe.ingress, events)
            collected = pipe.reader.wait_for(plan.total, timeout_s)
            seconds = time.monotonic() - start
            err("waiting for the shadow worker's decisions...")
            deadline = time.monotonic() + timeout_s
            while plan.ticket_ids - shadow.collected.outcomes.keys() and time.monotonic() < deadline:
                if not candidate.alive():
                    raise RuntimeError(f"the shadow worker exited; see {logs.path / 'shadow.log'}")
                shadow.poll()
        finally:
            shadow.close()
            stop_all([candidate])
        collected.unaccounted = collected.missing(plan.ticket_ids, plan.dead_letter_events)
    decided = {k: v for k, v in shadow.collected.outcomes.items() if k in plan.ticket_ids}
    return demo_summary(plan.total, collected, seconds), compare(collected.outcomes, decided, {})
