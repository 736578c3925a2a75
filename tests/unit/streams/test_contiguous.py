"""ContiguousReads: a consumer never moves past records a fetch jumped over (no broker needed)."""

from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from supportflow.streams.contiguous import ContiguousReads


@dataclass
class _Record:
    _offset: int
    _partition: int = 0
    _topic: str = "t"

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


@dataclass
class _ScriptedConsumer:
    """Stands in for confluent_kafka.Consumer: returns scripted fetches, records seeks and pauses."""

    fetches: list[list[int]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    def assign(self, _partitions: list[TopicPartition]) -> None: ...

    def consume(self, _num: int, timeout: float) -> list[_Record]:
        return [_Record(o) for o in self.fetches.pop(0)] if self.fetches else []

    def pause(self, tps: list[TopicPartition]) -> None:
        self.calls.append(("pause", tps[0].partition))

    def resume(self, tps: list[TopicPartition]) -> None:
        self.calls.append(("resume", tps[0].partition))

    def seek(self, tp: TopicPartition) -> None:
        self.calls.append(("seek", tp.offset))


def _offsets(reads: ContiguousReads) -> list[int]:
    return [m.offset() for m in reads.consume(100, timeout=0.0)]


def test_contiguous_reads_jump_held_back_until_the_range_is_read_again():
    consumer = _ScriptedConsumer([[0, 1, 4, 5], [2, 3, 4, 5]])
    reads = ContiguousReads(consumer, confirm_s=0.0)  # type: ignore[arg-type]
    reads.assign([TopicPartition("t", 0, 0)])
    assert _offsets(reads) == [0, 1]  # 2..3 not served yet: 4, 5 wait
    assert reads.rereading and consumer.calls == [("pause", 0)]
    assert _offsets(reads) == [2, 3, 4, 5]  # sought back to 2 first
    assert consumer.calls == [("pause", 0), ("seek", 2), ("resume", 0)]
    assert not reads.rereading and reads.jumps == 1


def test_contiguous_reads_same_jump_twice_is_a_real_gap():
    consumer = _ScriptedConsumer([[7, 9], [9, 10]])  # 8: a transaction marker
    reads = ContiguousReads(consumer, confirm_s=0.0)  # type: ignore[arg-type]
    reads.assign([TopicPartition("t", 0, 7)])
    assert _offsets(reads) == [7]
    assert _offsets(reads) == [9, 10]
