"""Every confluent-kafka client supportflow builds, configured in one place.

What all of them share: the bootstrap address, and librdkafka's own log lines routed through Python
logging (logger ``supportflow.kafka``, served when the client is polled) instead of written raw to
stderr. What each kind adds:

- producers write with ``acks=all``, and key records the way Java's and aiokafka's clients do
  (``murmur2_random``), so a key lands on the partition any other Kafka client would pick;
- consumers never auto-commit (supportflow commits what it processed, or nothing);
- readers (a consumer that reads topics without joining a group) share one unused group id.

Faust's own consumer (aiokafka) is configured in :mod:`supportflow.streams.app` and ``transport``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

#: The group id of consumers that only assign partitions: never joined, never committed.
READER_GROUP = "supportflow-reader-unused"

_log = logging.getLogger("supportflow.kafka")


def _base(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "logger": _log}


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's, aiokafka's and our producers' murmur2) gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def producer(bootstrap: str, **config: Any) -> Producer:
    """A producer; ``config`` adds or overrides librdkafka properties (e.g. ``linger.ms``)."""
    return Producer({**_base(bootstrap), "acks": "all", "partitioner": "murmur2_random", **config})


def consumer(bootstrap: str, group: str = READER_GROUP, **config: Any) -> Consumer:
    """A consumer that never auto-commits; ``group`` only matters to one that subscribes or commits."""
    return Consumer({**_base(bootstrap), "group.id": group, "enable.auto.commit": False, **config})


def admin(bootstrap: str, **config: Any) -> AdminClient:
    return AdminClient({**_base(bootstrap), **config})
