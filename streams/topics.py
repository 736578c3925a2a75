"""Every topic the pipeline uses, declared in one place and created with explicit partition counts.

Keys: from ``tickets`` onward every record is keyed by conversation id, so one conversation's messages
stay in one partition and in order. Pre-creating (instead of relying on auto-create) matters twice:
real clusters often disable auto-create, and Tansu auto-creates with 4 partitions, which would make
Faust raise PartitionsMismatch when the app is configured otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from supportflow.schemas.errors import PermanentError, TransientError
from supportflow.settings import Settings
from supportflow.streams import kafka
from supportflow.streams.topology import hops

log = logging.getLogger(__name__)

#: Faust tables used by the agents; each needs a ``<app_id>-<table>-changelog`` topic.
FAUST_TABLES: tuple[str, ...] = ("conversations",)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    compacted: bool = False
    replication_factor: int = 1

    def config(self) -> dict[str, str]:
        return {"cleanup.policy": "compact"} if self.compacted else {}


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    t = settings.topics
    n = t.partitions
    specs = [
        TopicSpec(t.full(t.ingress), n, "raw inbound events from webhooks, mailboxes, API"),
        TopicSpec(t.full(t.tickets), n, "normalized tickets, keyed by conversation"),
        TopicSpec(t.full(t.routed), n, "tickets with intent, confidence, band, tier"),
        TopicSpec(t.full(t.retrieved), n, "plus help-center sources and CRM context"),
        TopicSpec(t.full(t.resolved), n, "plus an answer or draft with citations"),
        TopicSpec(t.full(t.outcomes), n, "one decision per ticket: auto_resolved / suggested / escalated"),
        TopicSpec(t.full(t.dead_letter), n, "messages a stage could not process, with original bytes"),
        TopicSpec(t.full(t.audit), n, "per-ticket audit trail: inputs shown to models and outputs"),
        # One partition: flags are few, and every worker must see every flag in order.
        TopicSpec(t.full(t.control), 1, "kill switch and feature flags (last write wins)", compacted=True),
    ]
    specs += [
        TopicSpec(
            f"{settings.app_id}-{table}-changelog", n, f"Faust changelog of table {table}", compacted=True
        )
        for table in FAUST_TABLES
    ]
    rf = t.replication_factor
    return [TopicSpec(s.name, s.partitions, s.purpose, s.compacted, rf) for s in specs]


def source_topics(settings: Settings) -> list[str]:
    """The topics the pipeline's agents consume as one group, in stage order (``settings.topology``)."""
    t = settings.topics
    return [t.full(getattr(t, hop.reads)) for hop in hops(settings.topology)]


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 15.0) -> list[str]:
    """Create missing topics; fail clearly if an existing one has a different partition count.

    Returns the names that were created.
    """
    admin = kafka.admin(bootstrap)
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise TransientError(f"cannot list topics on {bootstrap}: {exc}") from exc
    for spec in specs:
        meta = existing.get(spec.name)
        if meta is not None and meta.error is None and len(meta.partitions) != spec.partitions:
            raise PermanentError(
                f"topic {spec.name} has {len(meta.partitions)} partitions, expected {spec.partitions}; "
                "set SUPPORTFLOW_TOPICS__PARTITIONS to match or recreate the topic"
            )
    missing = [s for s in specs if s.name not in existing or existing[s.name].error is not None]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication_factor, config=s.config())
         for s in missing],
        operation_timeout=timeout_s, request_timeout=timeout_s,
    )  # fmt: skip
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):  # a concurrent worker won the race
                raise TransientError(f"cannot create topic {name}: {exc}") from exc
    log.info("created topics: %s", ", ".join(created) or "none")
    return created
