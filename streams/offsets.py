"""Which offset a worker may commit: only past records it processed, counted from a known position.

Faust (0.15.3) decides what to commit from the offsets acked since its last commit, and in three
cases that lets it commit past a record nobody processed:

- A rebalance clears a partition's committed offset before the revoke handler's final commit, and
  with no committed offset Faust commits up to the first run of consecutive acks, wherever it starts.
- Faust acks records it skips without processing: ones fetched before the rebalance that reach a
  stream after it (wrong generation), or while flow is suspended. Such an ack past records that were
  dropped from the queues becomes that first run, and the dropped records are committed unread.
- Its gap check lets one missing offset through (``min(acked) - committed > 1``), and a jump in
  fetched offsets is recorded as a gap that includes the record it jumped to.

A worker killed after such a commit loses those tickets. :class:`CommitGuard` keeps its own record
instead: the position each partition was last committed or sought to, and the offsets processed
since. A commit moves only across offsets that were processed, or that a read of the log confirmed
absent (:class:`FetchTracker`: a transaction marker, a compacted record). An offset that was never processed holds the
commit back; it is never skipped. If later records were processed and it still was not after a
minute, the worker reads the partition again from it (``transport._Consumer``), so a dropped record
is neither lost nor left waiting for the next rebalance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)

#: A fetch that jumps over offsets is read again from the first of them this much later before the
#: range counts as absent. On Kafka the log below the high watermark never changes, so the second read
#: only confirms; on the embedded broker it waits out the concurrent writes that hid the records.
GAP_CONFIRM_S = 0.0
EMBEDDED_GAP_CONFIRM_S = 0.2


class CommitGuard(Generic[P]):
    """Per partition ``P``: the next offset to commit from, and the offsets processed at or past it."""

    def __init__(self) -> None:
        self._start: dict[P, int] = {}
        self._done: dict[P, set[int]] = {}
        self._held_since: dict[P, float] = {}  # when a later record was processed but the next was not

    def sought(self, partition: P, committed: int | None) -> None:
        """The consumer now reads ``partition`` from its committed offset (``None``: there is none)."""
        self._held_since.pop(partition, None)
        if committed is None or committed < 0:
            self._start.pop(partition, None)
            return
        self._start[partition] = committed
        done = self._done.get(partition)
        if done:
            self._done[partition] = {o for o in done if o >= committed}

    def forget(self, partition: P) -> None:
        """The partition was revoked: nothing is committed for it until it is sought again."""
        self._start.pop(partition, None)
        self._done.pop(partition, None)
        self._held_since.pop(partition, None)

    def known(self, partition: P) -> bool:
        return partition in self._start

    def processed(self, partition: P, offset: int) -> None:
        """The record at ``offset`` was processed and its outputs handed to the producer."""
        start = self._start.get(partition)
        if start is None or offset >= start:
            self._done.setdefault(partition, set()).add(offset)

    def was_processed(self, partition: P, offset: int) -> bool:
        return offset in self._done.get(partition, ())

    def advance(
        self, partition: P, absent_until: Callable[[int], int | None] = lambda _o: None
    ) -> int | None:
        """The offset to commit now, or ``None`` if the next record to commit was not processed.

        ``absent_until(offset)``: if ``offset`` is known to be missing from the log, the first offset
        after the missing range (else ``None``).
        """
        start = self._start.get(partition)
        if start is None:
            return None
        done = self._done.setdefault(partition, set())
        end = start
        while True:
            if end in done:
                done.remove(end)  # behind the commit from now on
                end += 1
                continue
            after_gap = absent_until(end)
            if after_gap is None or after_gap <= end:
                break
            done.difference_update(range(end, after_gap))
            end = after_gap
        if end == start:
            if done and partition not in self._held_since:
                self._held_since[partition] = time.monotonic()
            return None
        self._held_since.pop(partition, None)
        self._start[partition] = end
        return end

    def held(self, partition: P) -> tuple[int, float] | None:
        """(offset, seconds) while the commit waits on an unprocessed record that later ones passed."""
        since = self._held_since.get(partition)
        if since is None:
            return None
        return self._start[partition], time.monotonic() - since


@dataclass
class FetchVerdict(Generic[P]):
    """What a fetched batch may deliver; see :meth:`FetchTracker.fetched`."""

    #: Partitions fetched across a seek: drop their records; read them again from where the seek put them.
    suspect: set[P] = field(default_factory=set)
    #: Partitions whose start was unknown: the first offset fetched.
    started: dict[P, int] = field(default_factory=dict)
    #: Partitions whose batch jumped over offsets not yet confirmed absent: deliver only this many
    #: records (those before the jump) ...
    keep: dict[P, int] = field(default_factory=dict)
    #: ... and seek back to this offset after this many seconds, to read the jumped-over range again.
    reseek: dict[P, tuple[int, float]] = field(default_factory=dict)
    #: Partitions waiting for such a seek: drop their records, nothing to do.
    waiting: set[P] = field(default_factory=set)


class FetchTracker(Generic[P]):
    """Which fetched records may be trusted, and which offsets the log is known not to hold.

    A consumer's seek and its fetches run concurrently, so a batch fetched before a seek can arrive
    after it. Each seek bumps the partition's epoch (before and after it runs); a batch fetched across
    an epoch change is *suspect*: its records are neither delivered nor used to learn anything, and
    the partition is sought again to where it should read from.

    A jump in offsets inside a clean batch is a claim that the log lacks the offsets in between
    (transaction markers, compaction), but a broker may also serve a later batch of records before an
    earlier one is readable: Tansu does, under concurrent producers (docs/embedded-broker.md). So a
    jump is confirmed against the log before anything counts as absent: the records from the jump on
    are dropped, the partition is read again from the first missing offset after ``confirm_s``
    seconds, and only when that read jumps to the same offset again is the range absent. Until then
    a commit cannot cross it.
    """

    def __init__(self, confirm_s: float = 0.0) -> None:
        self.confirm_s = confirm_s
        self._epoch: dict[P, int] = {}
        self._next: dict[P, int | None] = {}  # the offset the next clean batch starts at, if known
        self._absent: dict[P, list[tuple[int, int]]] = {}  # [start, end) ranges, sorted, disjoint
        self._jump: dict[P, tuple[int, int, float]] = {}  # unconfirmed: (from, to, first seen)
        self._waiting: dict[P, int] = {}  # partition -> epoch when its confirming seek was asked for

    def seeking(self, partition: P, offset: int | None) -> None:
        """A seek of ``partition`` to ``offset`` (``None``: a position the broker will choose)."""
        self._epoch[partition] = self._epoch.get(partition, 0) + 1
        self._next[partition] = offset if offset is not None and offset >= 0 else None
        self._waiting.pop(partition, None)

    def forget(self, partition: P) -> None:
        """The partition was revoked: batches fetched for it so far are stale."""
        self._epoch[partition] = self._epoch.get(partition, 0) + 1
        self._next.pop(partition, None)
        self._absent.pop(partition, None)
        self._jump.pop(partition, None)
        self._waiting.pop(partition, None)

    def snapshot(self) -> dict[P, int]:
        """Taken just before a fetch starts."""
        return dict(self._epoch)

    def is_stale(self, snapshot: dict[P, int], partition: P) -> bool:
        """A seek of ``partition`` happened since ``snapshot``: its records from that fetch are stale."""
        return self._epoch.get(partition, 0) != snapshot.get(partition, 0)

    def next_offset(self, partition: P) -> int | None:
        return self._next.get(partition)

    def still_waiting(self, partition: P, offset: int) -> bool:
        """The confirming seek of ``partition`` to ``offset`` is still wanted (no other seek came first)."""
        return (
            self._epoch.get(partition, 0) == self._waiting.get(partition)
            and self._next.get(partition) == offset
        )

    def fetched(
        self, snapshot: dict[P, int], offsets: dict[P, list[int]], now: float | None = None
    ) -> FetchVerdict[P]:
        """Learns from a fetched batch (its offsets per partition) what it may deliver."""
        now = time.monotonic() if now is None else now
        verdict: FetchVerdict[P] = FetchVerdict()
        for partition, batch in offsets.items():
            if not batch:
                continue
            if self.is_stale(snapshot, partition):
                verdict.suspect.add(partition)
                continue
            if partition in self._waiting:
                verdict.waiting.add(partition)
                continue
            expected = self._next.get(partition)
            if expected is None:
                verdict.started[partition] = expected = batch[0]
            for index, offset in enumerate(batch):
                if offset > expected and not self._confirmed(partition, expected, offset, now):
                    verdict.keep[partition] = index
                    verdict.reseek[partition] = (expected, self._wait_before_reseek(partition, now))
                    self._waiting[partition] = self._epoch.get(partition, 0)
                    break
                expected = max(expected, offset + 1)
            self._next[partition] = expected
            jump = self._jump.get(partition)
            if jump is not None and jump[0] < expected:  # the jumped-over records were read after all
                del self._jump[partition]
        return verdict

    def _confirmed(self, partition: P, start: int, end: int, now: float) -> bool:
        """A jump ``start`` -> ``end``: absent if a read from ``start`` saw it before, ``confirm_s`` ago."""
        seen = self._jump.get(partition)
        if seen is not None and seen[:2] == (start, end) and now - seen[2] >= self.confirm_s:
            del self._jump[partition]
            self._add_absent(partition, start, end)
            return True
        if seen is None or seen[:2] != (start, end):
            self._jump[partition] = (start, end, now)
        return False

    def _wait_before_reseek(self, partition: P, now: float) -> float:
        return max(0.0, self._jump[partition][2] + self.confirm_s - now)

    def _add_absent(self, partition: P, start: int, end: int) -> None:
        ranges = self._absent.setdefault(partition, [])
        ranges.append((start, end))
        ranges.sort()

    def absent_until(self, partition: P, offset: int) -> int | None:
        """If ``offset`` is known to be absent from the log, the first offset after its range."""
        for start, end in self._absent.get(partition, ()):
            if start <= offset < end:
                return end
        return None

    def committed(self, partition: P, offset: int) -> None:
        """Ranges below a commit are never asked about again."""
        ranges = self._absent.get(partition)
        if ranges:
            self._absent[partition] = [(s, e) for s, e in ranges if e > offset]
