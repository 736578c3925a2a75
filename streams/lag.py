"""Consumer lag per topic for one group, sampled in a thread into ``supportflow_consumer_lag``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Literal

from confluent_kafka import OFFSET_END, KafkaException, TopicPartition

from supportflow.schemas.errors import TransientError
from supportflow.streams import kafka
from supportflow.streams.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

WatermarkStrategy = Literal["list_offsets", "fetch"]


class LagSampler:
    """Consumer lag per topic for one group: committed offsets against high watermarks, every N seconds.

    ``watermarks`` picks where the high watermark comes from:

    - ``"list_offsets"`` (default, real Kafka): ``get_watermark_offsets(tp, cached=False)``, a ListOffsets
      request per partition.
    - ``"fetch"`` (embedded Tansu only): Tansu 0.6.0 answers ListOffsets "latest" with the start of the
      last batch + 1, not the log end (docs/embedded-broker.md, defect 1), so lag would read low. Fetch responses
      carry the right high watermark, so a private consumer (its own group id, never committing) is
      assigned the partitions, polls briefly, and reads ``get_watermark_offsets(tp, cached=True)``.

    A partition the group never committed counts from the log start, as ``auto.offset.reset=earliest``
    would read it. The sampler never joins or commits for the observed group: it only asks for offsets.
    """

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Iterable[str],
        *,
        interval_s: float = 15.0,
        watermarks: WatermarkStrategy = "list_offsets",
        timeout_s: float = 5.0,
    ) -> None:
        if watermarks not in ("list_offsets", "fetch"):
            raise ValueError(f"watermarks must be 'list_offsets' or 'fetch', got {watermarks!r}")
        self._bootstrap = bootstrap
        self._group = group
        self._topics = list(topics)
        self._interval_s = interval_s
        self._watermarks: WatermarkStrategy = watermarks
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        # Used only for OffsetFetch (committed) and metadata; it never subscribes, so never joins the group.
        self._offsets = kafka.consumer(bootstrap, group)

    def start(self) -> LagSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout_s + self._interval_s)
        self._offsets.close()

    def sample(self) -> dict[str, int]:
        """Measure once, update ``supportflow_consumer_lag``, return lag per topic."""
        try:
            partitions = self._partitions()
            committed = {
                (tp.topic, tp.partition): tp.offset
                for tp in self._offsets.committed(partitions, timeout=self._timeout_s)
            }
            marks = (
                self._fetch_marks(partitions)
                if self._watermarks == "fetch"
                else self._listed_marks(partitions)
            )
        except KafkaException as exc:
            raise TransientError(f"cannot sample lag of group {self._group}: {exc}") from exc
        lag: dict[str, int] = {}
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if key not in marks:  # no watermark within the timeout: leave the topic's last value standing
                continue
            low, high = marks[key]
            position = committed.get(key, -1)
            start = position if position >= 0 else max(low, 0)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - start)
        for topic, value in lag.items():
            CONSUMER_LAG.labels(topic=topic, group=self._group).set(value)
        return lag

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except TransientError as exc:
                log.warning("lag sample failed: %s", exc)
            self._stop.wait(self._interval_s)

    def _partitions(self) -> list[TopicPartition]:
        meta = self._offsets.list_topics(timeout=self._timeout_s)
        tps = []
        for topic in self._topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                log.warning("lag sampler: topic %s not found", topic)
                continue
            tps += [TopicPartition(topic, p) for p in sorted(info.partitions)]
        return tps

    def _listed_marks(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], tuple[int, int]]:
        return {
            (tp.topic, tp.partition): self._offsets.get_watermark_offsets(
                tp, timeout=self._timeout_s, cached=False
            )
            for tp in partitions
        }

    def _fetch_marks(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], tuple[int, int]]:
        return fetch_watermarks(self._bootstrap, partitions, f"{self._group}.lag-sampler", self._timeout_s)


def fetch_watermarks(
    bootstrap: str, partitions: list[TopicPartition], group: str, timeout_s: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) watermarks of ``partitions`` as Fetch responses report them (right on Tansu, whose
    ListOffsets "latest" is not: defect 1). Partitions that did not answer within ``timeout_s`` are missing."""
    # A fresh consumer starts with no cached watermarks, so whatever it reports came from a Fetch
    # response of this call. Starting at the (approximate) end keeps the fetch tiny; the Fetch response
    # carries the true high watermark whatever offset it started from.
    fetcher = kafka.consumer(
        bootstrap,
        group,
        **{
            "enable.partition.eof": False,
            "fetch.wait.max.ms": 100,  # Tansu returns nothing for a 0 ms wait (defect 3)
            "max.partition.fetch.bytes": 65536,
            "auto.offset.reset": "latest",
        },
    )
    try:
        fetcher.assign([TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in partitions])
        marks: dict[tuple[str, int], tuple[int, int]] = {}
        deadline = time.monotonic() + timeout_s
        while len(marks) < len(partitions) and time.monotonic() < deadline:
            fetcher.consume(num_messages=500, timeout=0.1)  # records are discarded: only watermarks matter
            for tp in partitions:
                low, high = fetcher.get_watermark_offsets(tp, cached=True)
                if high >= 0:
                    marks[(tp.topic, tp.partition)] = (low, high)
        return marks
    finally:
        fetcher.close()
