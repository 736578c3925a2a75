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

On real Kafka and on Tansu alike a worker killed after such a commit loses those tickets: the
crash test lost 4 of 2,000 in CI. :class:`CommitGuard` keeps its own record instead: the position
each partition was last committed or sought to, and the offsets processed since. A commit moves
only across offsets that were processed, or that are absent from the log (a gap Faust saw in the
fetched offsets, such as a transaction marker). An offset that was never processed holds the
commit back; it is never skipped. If later records were processed and it still was not after a
minute, the worker reads the partition again from it (``transport._Consumer``), so a dropped record
is neither lost nor left waiting for the next rebalance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


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


class FetchTracker(Generic[P]):
    """Which fetched records may be trusted, and which offsets the log is known not to hold.

    A consumer's seek and its fetches run concurrently, so a batch fetched before a seek can arrive
    after it. Each seek bumps the partition's epoch (before and after it runs); a batch fetched across
    an epoch change is *suspect*: its records are neither delivered nor used to learn anything, and
    the partition is sought again to where it should read from. In a batch fetched with no seek
    around it, records come straight from the log in order from a known position, so an offset
    jump there proves the offsets in between are absent (transaction markers, compaction). Nothing
    else counts as absent: a jump seen across a seek, a rebalance or a dropped batch is not evidence.
    """

    def __init__(self) -> None:
        self._epoch: dict[P, int] = {}
        self._next: dict[P, int | None] = {}  # the offset the next clean batch starts at, if known
        self._absent: dict[P, list[tuple[int, int]]] = {}  # [start, end) ranges, sorted, disjoint

    def seeking(self, partition: P, offset: int | None) -> None:
        """A seek of ``partition`` to ``offset`` (``None``: a position the broker will choose)."""
        self._epoch[partition] = self._epoch.get(partition, 0) + 1
        self._next[partition] = offset if offset is not None and offset >= 0 else None

    def forget(self, partition: P) -> None:
        """The partition was revoked: batches fetched for it so far are stale."""
        self._epoch[partition] = self._epoch.get(partition, 0) + 1
        self._next.pop(partition, None)
        self._absent.pop(partition, None)

    def snapshot(self) -> dict[P, int]:
        """Taken just before a fetch starts."""
        return dict(self._epoch)

    def is_stale(self, snapshot: dict[P, int], partition: P) -> bool:
        """A seek of ``partition`` happened since ``snapshot``: its records from that fetch are stale."""
        return self._epoch.get(partition, 0) != snapshot.get(partition, 0)

    def next_offset(self, partition: P) -> int | None:
        return self._next.get(partition)

    def fetched(self, snapshot: dict[P, int], offsets: dict[P, list[int]]) -> tuple[set[P], dict[P, int]]:
        """Learns from a fetched batch: ``(suspect partitions, first offsets of partitions whose start
        was unknown)``. Suspect partitions' records must be dropped and the partitions sought again."""
        suspect: set[P] = set()
        started: dict[P, int] = {}
        for partition, batch in offsets.items():
            if not batch:
                continue
            if self.is_stale(snapshot, partition):
                suspect.add(partition)
                continue
            expected = self._next.get(partition)
            if expected is None:
                started[partition] = expected = batch[0]
            for offset in batch:
                if offset > expected:
                    self._add_absent(partition, expected, offset)
                expected = max(expected, offset + 1)
            self._next[partition] = expected
        return suspect, started

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
