"""Kill switch and feature flags on the control topic (one partition, compacted on real Kafka).

Every worker reads the whole control topic from offset 0 at start with no consumer group (so each sees
every flag, and Tansu's broken "earliest" lookup never matters), then follows it: last write per key
wins. A record is ``{"value": <JSON>, "set_at_ms": <int>}``; ``supportflow flags set
auto_resolve=false`` flips all workers to suggest-only. Which flags exist and their types are in
:mod:`supportflow.streams.flag_registry`: a value that is unreadable or of the wrong type is replaced
by the flag's fail-closed value and counted (``supportflow_flag_values_invalid_total``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from supportflow.streams import kafka, metrics
from supportflow.streams.contiguous import ContiguousReads
from supportflow.streams.flag_registry import DEFAULT_FLAGS, FLAGS, FlagError, parse_assignment, read

__all__ = [
    "DEFAULT_FLAGS",
    "FlagChange",
    "FlagError",
    "FlagTable",
    "FlagWatcher",
    "parse_assignment",
    "publish_flag",
]

log = logging.getLogger(__name__)

#: What readers see until the control topic's history is loaded.
_FAIL_CLOSED: dict[str, Any] = {name: spec.fail_closed for name, spec in FLAGS.items()}


def publish_flag(bootstrap: str, topic: str, name: str, value: Any, timeout_s: float = 10.0) -> int:
    """Write one flag as given (writers check it with ``flag_registry.coerce`` first); returns the set
    time in ms (the effect is measured from here)."""
    set_at = int(time.time() * 1000)
    producer = kafka.producer(bootstrap)
    producer.produce(
        topic, key=name.encode(), value=json.dumps({"value": value, "set_at_ms": set_at}).encode()
    )
    if producer.flush(timeout_s) != 0:
        raise TimeoutError(f"flag {name} not acknowledged by {bootstrap} within {timeout_s}s")
    return set_at


def delete_flag(bootstrap: str, topic: str, name: str, timeout_s: float = 10.0) -> None:
    """Write a tombstone: a known flag goes back to its default, an unknown name leaves the topic."""
    producer = kafka.producer(bootstrap)
    producer.produce(topic, key=name.encode(), value=None)
    if producer.flush(timeout_s) != 0:
        raise TimeoutError(f"flag {name} deletion not acknowledged by {bootstrap} within {timeout_s}s")


@dataclass(frozen=True)
class FlagChange:
    """One control-topic record as a reader applied it."""

    name: str
    value: Any  # the flag's effective value now (None for a name the registry does not know)
    error: str | None = None  # why the record's value was not used
    delay_s: float | None = None  # from set to applied, when the record says when it was set

    @property
    def known(self) -> bool:
        return self.name in FLAGS


class FlagTable:
    """Effective flag values from control-topic records (no Kafka here: the watcher feeds it).

    Known flags always have a value: the default until a record sets one, the fail-closed value while
    the last record is unreadable or of the wrong type. Rejected records are kept in :attr:`invalid`
    (name -> (stored value, reason)) until a valid record or a tombstone replaces them.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = dict(DEFAULT_FLAGS)
        self.invalid: dict[str, tuple[Any, str]] = {}

    def apply(self, key: bytes | None, value: bytes | None, now_s: float | None = None) -> FlagChange | None:
        if key is None:
            return None
        name = key.decode(errors="replace")
        if value is None:  # a tombstone (`flags unset`): back to the default
            return self._set(name, DEFAULT_FLAGS.get(name), None, None)
        try:
            doc = json.loads(value)
        except ValueError:  # not JSON, or not UTF-8
            doc = None
        known = name in FLAGS
        if not isinstance(doc, dict) or "value" not in doc:
            preview = value.decode(errors="replace")[:80]
            fallback = FLAGS[name].fail_closed if known else None
            return self._set(name, fallback, preview, f"unreadable record {preview!r}")
        raw = doc["value"]
        delay = _delay_s(doc.get("set_at_ms"), time.time() if now_s is None else now_s)
        if not known:
            return self._set(name, None, raw, "unknown flag", delay)
        effective, error = read(name, raw)
        return self._set(name, effective, raw, error, delay)

    def _set(
        self, name: str, effective: Any, raw: Any, error: str | None, delay_s: float | None = None
    ) -> FlagChange:
        if name in FLAGS:  # copy on write: readers on other threads see one dict or the other, never a mix
            self.values = {**self.values, name: effective}
        invalid = {k: v for k, v in self.invalid.items() if k != name}
        if error is not None:
            invalid[name] = (raw, error)
        self.invalid = invalid
        return FlagChange(name, effective, error, delay_s)  # `effective` is None for an unknown name


def _delay_s(set_at_ms: Any, now_s: float) -> float | None:
    if isinstance(set_at_ms, bool) or not isinstance(set_at_ms, int) or set_at_ms <= 0:
        return None
    return max(0.0, now_s - set_at_ms / 1000)


class FlagWatcher:
    """Follows the control topic in a daemon thread; :meth:`get` is lock-free for the hot path.

    ``on_change(name, value, delay_s)`` is called for every record of a known flag with its effective
    (typed, fail-closed) value. Invalid values are counted once the history is loaded: at that point
    once per flag whose latest value is invalid, then once per invalid record (a restart does not
    count records that were already superseded).
    """

    def __init__(
        self, bootstrap: str, topic: str,
        on_change: Callable[[str, Any, float | None], None] | None = None,
    ) -> None:  # fmt: skip
        self._topic = topic
        self._on_change = on_change
        self._table = FlagTable()
        # What get() and snapshot() read: fail-closed values until the history is loaded, then the
        # table's (copy-on-write) values. One dict lookup per ticket on the gate's hot path.
        self._view: dict[str, Any] = _FAIL_CLOSED
        self.last_effect_delay_s = 0.0
        self._reads = ContiguousReads(kafka.consumer(bootstrap, **{"fetch.wait.max.ms": 100}))
        self._consumer = self._reads.consumer
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flag-watcher", daemon=True)

    def start(self, wait_s: float = 10.0) -> FlagWatcher:
        self._reads.assign([TopicPartition(self._topic, 0, 0)])
        self._thread.start()
        if not self._loaded.wait(wait_s):
            log.warning(
                "control topic %s not loaded within %.0fs: flags hold their fail-closed values "
                "(auto-send off) until it is", self._topic, wait_s,
            )  # fmt: skip
        return self

    def get(self, name: str) -> Any:
        """The flag's effective value; its fail-closed value until the topic's history is loaded
        (a worker that cannot read the control topic must not auto-send on the default)."""
        return self._view.get(name)

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def snapshot(self) -> dict[str, Any]:
        """Every known flag's effective value (fail-closed values until the history is loaded)."""
        return dict(self._view)

    def invalid(self) -> dict[str, tuple[Any, str]]:
        """Records on the topic that are not in effect: name -> (stored value, reason)."""
        return dict(self._table.invalid)

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._reads.poll(0.2)
            if msg is None:
                self._mark_loaded_if_caught_up()
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._set_loaded()
                continue
            self._apply(msg.key(), msg.value())
            self._mark_loaded_if_caught_up()

    def _mark_loaded_if_caught_up(self) -> None:
        if self._loaded.is_set() or self._reads.rereading:
            return
        # The high watermark cached from Fetch responses is right on Tansu; ListOffsets is not.
        _low, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, 0), cached=True)
        position = self._consumer.position([TopicPartition(self._topic, 0)])[0].offset
        if high >= 0 and (position >= high or high == 0):
            self._set_loaded()

    def _set_loaded(self) -> None:
        if self._loaded.is_set():
            return
        for name, (_stored, reason) in self._table.invalid.items():
            log.warning("flag %s: %s", name, reason)
            metrics.observe_flag_invalid(name)
        metrics.observe_flags_invalid_now(self._table.invalid)
        self._view = self._table.values
        self._loaded.set()
        if self._on_change is not None:  # until now readers saw fail-closed values
            for name, value in self._table.values.items():
                self._on_change(name, value, None)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        change = self._table.apply(key, value)
        if change is None:
            return
        if self._loaded.is_set():  # while loading, only what is still invalid at the end counts
            self._view = self._table.values
            if change.error is not None:
                log.warning("flag %s: %s", change.name, change.error)
                metrics.observe_flag_invalid(change.name)
            metrics.observe_flags_invalid_now(self._table.invalid)
        if change.delay_s is not None:
            # How long from `flags set` to this worker acting on it (the kill-switch SLO).
            self.last_effect_delay_s = change.delay_s
        log.info("flag %s=%r (effect %s s after set)", change.name, change.value, change.delay_s)
        if change.known and self._on_change is not None:
            self._on_change(change.name, change.value, change.delay_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
