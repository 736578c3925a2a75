"""Kill switch and feature flags on the control topic (one partition, compacted on real Kafka).

Every worker reads the whole control topic from offset 0 at start with no consumer group (so each sees
every flag, and Tansu's broken "earliest" lookup never matters), then follows it: last write per key
wins. Values are JSON; ``supportflow flags set auto_resolve=false`` flips all workers to suggest-only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

log = logging.getLogger(__name__)

DEFAULT_FLAGS: dict[str, Any] = {"auto_resolve": True}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``auto_resolve=false`` -> ("auto_resolve", False); values parse as JSON, else stay strings."""
    if "=" not in text:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def publish_flag(bootstrap: str, topic: str, name: str, value: Any, timeout_s: float = 10.0) -> int:
    """Write one flag; returns the set time in ms (the effect is measured from here)."""
    set_at = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(
        topic, key=name.encode(), value=json.dumps({"value": value, "set_at_ms": set_at}).encode()
    )
    if producer.flush(timeout_s) != 0:
        raise TimeoutError(f"flag {name} not acknowledged by {bootstrap} within {timeout_s}s")
    return set_at


class FlagWatcher:
    """Follows the control topic in a daemon thread; :meth:`get` is lock-free for the hot path."""

    def __init__(
        self, bootstrap: str, topic: str, on_change: Callable[[str, Any, float], None] | None = None
    ) -> None:
        self._topic = topic
        self._on_change = on_change
        self._flags: dict[str, Any] = dict(DEFAULT_FLAGS)
        self.last_effect_delay_s = 0.0
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "supportflow-flags-unused",
             "enable.auto.commit": False, "fetch.wait.max.ms": 100}
        )  # fmt: skip
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flag-watcher", daemon=True)

    def start(self, wait_s: float = 10.0) -> FlagWatcher:
        self._consumer.assign([TopicPartition(self._topic, 0, 0)])
        self._thread.start()
        self._loaded.wait(wait_s)
        return self

    def get(self, name: str) -> Any:
        return self._flags.get(name, DEFAULT_FLAGS.get(name))

    def snapshot(self) -> dict[str, Any]:
        return dict(self._flags)

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None:
                self._mark_loaded_if_caught_up()
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._loaded.set()
                continue
            self._apply(msg.key(), msg.value())
            self._mark_loaded_if_caught_up()

    def _mark_loaded_if_caught_up(self) -> None:
        if self._loaded.is_set():
            return
        # The high watermark cached from Fetch responses is right on Tansu; ListOffsets is not.
        _low, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, 0), cached=True)
        position = self._consumer.position([TopicPartition(self._topic, 0)])[0].offset
        if high >= 0 and (position >= high or high == 0):
            self._loaded.set()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode(errors="replace")
        try:
            doc = json.loads(value or b"null")
        except json.JSONDecodeError:
            log.warning("ignoring malformed flag %s", name)
            return
        if doc is None:  # tombstone: back to default
            self._flags = {k: v for k, v in self._flags.items() if k != name} | (
                {name: DEFAULT_FLAGS[name]} if name in DEFAULT_FLAGS else {}
            )
            return
        self._flags = {**self._flags, name: doc.get("value")}
        # How long from `flags set` to this worker acting on it (the kill-switch SLO).
        self.last_effect_delay_s = max(0.0, time.time() - int(doc.get("set_at_ms", 0)) / 1000)
        log.info("flag %s=%r (effect %.3fs after set)", name, doc.get("value"), self.last_effect_delay_s)
        if self._on_change is not None:
            self._on_change(name, doc.get("value"), self.last_effect_delay_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
