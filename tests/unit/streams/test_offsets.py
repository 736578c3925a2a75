"""What a worker may commit: never past a record it did not process (no broker needed)."""

import asyncio

import pytest
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from prometheus_client import REGISTRY

from supportflow.streams.offsets import CommitGuard, FetchTracker
from supportflow.streams.transport import PipelineApp

P = "p0"


def test_commit_guard_contiguous_processed_offsets_advance_to_the_next_one():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 10)
    for offset in (10, 11, 12):
        guard.processed(P, offset)
    assert guard.advance(P) == 13
    assert guard.advance(P) is None  # nothing new since


def test_commit_guard_unprocessed_offset_holds_the_commit_back():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 10)
    for offset in (10, 11, 13, 14):  # 12 was dropped, never processed
        guard.processed(P, offset)
    assert guard.advance(P) == 12
    assert guard.advance(P) is None
    guard.processed(P, 12)
    assert guard.advance(P) == 15


def test_commit_guard_first_offset_unprocessed_commits_nothing():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 10)
    guard.processed(P, 11)
    assert guard.advance(P) is None


def test_commit_guard_absent_range_is_crossed_but_not_the_record_after_it():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 10)
    guard.processed(P, 10)

    def absent_until(offset: int) -> int | None:
        return 15 if 11 <= offset < 15 else None  # 11..14 are not in the log (e.g. transaction markers)

    assert guard.advance(P, absent_until) == 15
    guard.processed(P, 15)
    assert guard.advance(P, absent_until) == 16


def test_commit_guard_unknown_position_commits_nothing():
    guard: CommitGuard[str] = CommitGuard()
    guard.processed(P, 0)
    assert not guard.known(P)
    assert guard.advance(P) is None
    guard.sought(P, None)  # no committed offset on the broker
    assert guard.advance(P) is None


def test_commit_guard_seek_back_counts_again_from_the_committed_offset():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 0)
    for offset in range(5):
        guard.processed(P, offset)
    assert guard.advance(P) == 5
    guard.sought(P, 3)  # a rebalance: the broker only has 3 (a commit was discarded)
    assert guard.advance(P) is None  # 3 and 4 are read again; they count once processed again
    guard.processed(P, 3)
    guard.processed(P, 4)
    assert guard.advance(P) == 5
    guard.processed(P, 2)  # below the position: ignored
    assert not guard.was_processed(P, 2)


def _consumer_with_partition(tp: TP, committed: int):
    app = PipelineApp("commit-guard-test", broker="kafka://127.0.0.1:9", topic_allow_declare=False)
    consumer = app.consumer
    consumer.app.topics.acks_enabled_for = lambda _topic: True  # as for any topic an agent consumes
    consumer._committed_offset[tp] = committed
    consumer.commit_guard.sought(tp, committed)
    return app, consumer


def _message(tp: TP, offset: int) -> ConsumerMessage:
    message = ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"key", b"value", None)
    message.refcount = 1
    return message


def test_consumer_record_skipped_during_rebalance_is_never_committed():
    tp = TP("supportflow.tickets.resolved", 0)
    app, consumer = _consumer_with_partition(tp, committed=100)
    for offset in range(100, 131):  # processed by the stage, acked
        message = _message(tp, offset)
        app.processed(message)
        message.ack(consumer)
    # A rebalance starts: Faust forgets the partition's committed offset and acks (131..140 were in
    # the agent's queue and are dropped), then acks a record it skipped as stale: 141.
    consumer._committed_offset.pop(tp)
    consumer._acked.pop(tp)
    consumer._acked_index.pop(tp)
    stale = _message(tp, 141)
    FaustConsumer.ack(consumer, stale)  # what Faust's own ack records
    assert FaustConsumer._new_offset(consumer, tp) == 142  # 131..140 committed, unprocessed

    consumer._acked[tp], consumer._acked_index[tp] = [], set()
    _message(tp, 141).ack(consumer)  # the same skip, through this worker's consumer
    assert consumer._filter_committable_offsets([tp]) == {tp: 131}
    assert consumer._filter_committable_offsets([tp]) == {}


def _process(app, consumer, tp: TP, *offsets: int) -> None:
    for offset in offsets:
        message = _message(tp, offset)
        app.processed(message)
        message.ack(consumer)


def test_consumer_jump_inside_a_clean_fetch_is_crossed_only_once_a_second_read_confirms_it():
    tp = TP("supportflow.ingress.raw", 0)
    app, consumer = _consumer_with_partition(tp, committed=100)
    consumer.fetches.seeking(tp, 100)
    first = consumer.fetches.fetched(consumer.fetches.snapshot(), {tp: [100, 105, 106]}, now=0.0)
    assert first.keep == {tp: 1} and first.reseek == {tp: (100 + 1, 0.0)}  # deliver 100; read 101 on again
    _process(app, consumer, tp, 100)
    assert consumer._filter_committable_offsets([tp]) == {tp: 101}  # not across 101..104 yet
    consumer.fetches.seeking(tp, 101)
    second = consumer.fetches.fetched(consumer.fetches.snapshot(), {tp: [105, 106]}, now=0.1)
    assert not second.keep  # the same jump from the same offset: 101..104 are absent
    _process(app, consumer, tp, 105)
    assert consumer._filter_committable_offsets([tp]) == {tp: 106}  # 106 not processed yet
    _process(app, consumer, tp, 106)
    assert consumer._filter_committable_offsets([tp]) == {tp: 107}


def test_fetch_tracker_jump_over_records_served_late_is_never_absent():
    # Tansu under concurrent producers serves a later batch (105..) before an earlier one (101..104)
    # is readable. Read again from 101 a moment later, the records are there.
    fetches: FetchTracker[str] = FetchTracker(confirm_s=0.2)
    fetches.seeking(P, 100)
    first = fetches.fetched(fetches.snapshot(), {P: [100, 105]}, now=10.0)
    assert first.keep == {P: 1} and first.reseek == {P: (101, pytest.approx(0.2))}
    assert fetches.fetched(fetches.snapshot(), {P: [106]}, now=10.1).waiting == {P}  # until the seek
    assert fetches.still_waiting(P, 101)
    fetches.seeking(P, 101)
    again = fetches.fetched(fetches.snapshot(), {P: [101, 102, 103, 104, 105]}, now=10.3)
    assert not again.keep and not again.reseek
    assert fetches.absent_until(P, 101) is None and fetches.next_offset(P) == 106


def test_fetch_tracker_same_jump_read_again_too_soon_is_not_confirmed():
    fetches: FetchTracker[str] = FetchTracker(confirm_s=0.2)
    fetches.seeking(P, 10)
    fetches.fetched(fetches.snapshot(), {P: [15]}, now=1.0)
    fetches.seeking(P, 10)
    early = fetches.fetched(fetches.snapshot(), {P: [15]}, now=1.05)
    assert early.keep == {P: 0} and early.reseek[P][1] == pytest.approx(0.15)
    fetches.seeking(P, 10)
    assert not fetches.fetched(fetches.snapshot(), {P: [15]}, now=1.25).keep
    assert fetches.absent_until(P, 10) == 15


def test_fetch_tracker_confirming_seek_superseded_by_another_seek_is_not_wanted():
    fetches: FetchTracker[str] = FetchTracker(confirm_s=0.2)
    fetches.seeking(P, 10)
    fetches.fetched(fetches.snapshot(), {P: [12]}, now=1.0)
    assert fetches.still_waiting(P, 10)
    fetches.seeking(P, 4)  # a rebalance sought the partition to its committed offset meanwhile
    assert not fetches.still_waiting(P, 10)


def test_consumer_gap_seen_across_a_seek_is_never_crossed():
    # The race: a batch fetched before a seek (106..110) arrives after it. Faust
    # saw 106 right after the seek target 101 and recorded 102..105 as a gap, then dropped the seek's
    # own fetch of 101..105 as already read: never processed, but counted as absent.
    tp = TP("supportflow.tickets.normalized", 0)
    app, consumer = _consumer_with_partition(tp, committed=100)
    consumer.fetches.seeking(tp, 100)
    before_seek = consumer.fetches.snapshot()
    _process(app, consumer, tp, 100)
    consumer.fetches.seeking(tp, 101)  # a re-read or a rebalance seeks while the fetch is in flight
    verdict = consumer.fetches.fetched(before_seek, {tp: list(range(106, 111))})
    assert verdict.suspect == {tp}  # dropped before Faust sees it, and the partition is sought again
    assert consumer.fetches.is_stale(before_seek, tp)
    asyncio.run(consumer._add_gap(tp, 102, 106))  # what Faust would infer: no longer evidence
    _process(app, consumer, tp, 101)
    assert consumer._filter_committable_offsets([tp]) == {tp: 102}
    assert consumer._filter_committable_offsets([tp]) == {}  # 102..105 were never processed


def test_fetch_tracker_batch_fetched_across_a_seek_teaches_nothing():
    fetches: FetchTracker[str] = FetchTracker()
    fetches.seeking(P, 10)
    snapshot = fetches.snapshot()
    fetches.seeking(P, 10)
    verdict = fetches.fetched(snapshot, {P: [15, 20]})
    assert verdict.suspect == {P} and not verdict.reseek
    assert fetches.absent_until(P, 12) is None and fetches.next_offset(P) == 10


def test_fetch_tracker_jump_confirmed_absent_is_forgotten_behind_a_commit():
    fetches: FetchTracker[str] = FetchTracker()
    fetches.seeking(P, 10)  # 10 is a transaction marker: the log's next record is 11
    assert fetches.fetched(fetches.snapshot(), {P: [11, 12]}, now=0.0).keep == {P: 0}
    fetches.seeking(P, 10)
    assert not fetches.fetched(fetches.snapshot(), {P: [11, 12]}, now=0.0).keep
    assert fetches.absent_until(P, 10) == 11
    assert fetches.absent_until(P, 11) is None
    fetches.committed(P, 13)
    assert fetches.absent_until(P, 10) is None  # behind the commit: forgotten


def test_fetch_tracker_batches_continue_from_the_previous_batch():
    fetches: FetchTracker[str] = FetchTracker()
    fetches.seeking(P, 0)
    fetches.fetched(fetches.snapshot(), {P: [0, 1, 2]})
    assert fetches.next_offset(P) == 3
    assert fetches.fetched(fetches.snapshot(), {P: [5, 6]}).reseek == {P: (3, 0.0)}  # a jump, not a gap yet
    assert fetches.next_offset(P) == 3 and fetches.absent_until(P, 3) is None


def test_consumer_partition_without_committed_offset_counts_from_the_first_fetched_record():
    tp = TP("supportflow.ingress.raw", 3)
    app = PipelineApp("commit-guard-test", broker="kafka://127.0.0.1:9", topic_allow_declare=False)
    consumer = app.consumer
    consumer.fetches.seeking(tp, None)  # a new group: the broker's reset policy picks the position
    started = consumer.fetches.fetched(consumer.fetches.snapshot(), {tp: [40, 41]}).started
    assert started == {tp: 40}
    assert consumer._filter_committable_offsets([tp]) == {}  # unknown to the guard: nothing committed
    consumer.commit_guard.sought(tp, started[tp])
    _process(app, consumer, tp, 41)
    assert consumer._filter_committable_offsets([tp]) == {}  # 40 was not processed
    _process(app, consumer, tp, 40)
    assert consumer._filter_committable_offsets([tp]) == {tp: 42}


def test_consumer_revoked_partition_commits_nothing_until_sought_again():
    tp = TP("supportflow.tickets.routed", 0)
    app, consumer = _consumer_with_partition(tp, committed=10)
    _process(app, consumer, tp, 10)
    consumer.commit_guard.forget(tp)  # what the revoke does after its last commit
    consumer.fetches.forget(tp)
    _process(app, consumer, tp, 11)  # a record of the old assignment finishing late
    assert consumer._filter_committable_offsets([tp]) == {}
    consumer.commit_guard.sought(tp, 11)  # assigned again; another worker committed 11
    assert consumer._filter_committable_offsets([tp]) == {tp: 12}


def test_consumer_unprocessed_ack_releases_the_message():
    tp = TP("supportflow.tickets.routed", 1)
    _app, consumer = _consumer_with_partition(tp, committed=7)
    message = _message(tp, 7)
    consumer._unacked_messages.add(message)
    message.ack(consumer)
    assert message.acked and message not in consumer._unacked_messages  # a rebalance won't wait for it
    assert consumer._filter_committable_offsets([tp]) == {}


def test_commit_guard_hold_is_reported_until_the_record_is_processed():
    guard: CommitGuard[str] = CommitGuard()
    guard.sought(P, 10)
    guard.processed(P, 11)
    assert guard.advance(P) is None
    held = guard.held(P)
    assert held is not None and held[0] == 10 and held[1] >= 0.0
    guard.processed(P, 10)
    assert guard.advance(P) == 12
    assert guard.held(P) is None


def test_consumer_commit_held_too_long_reads_the_partition_again_from_the_record():
    tp = TP("supportflow.tickets.routed", 2)
    app, consumer = _consumer_with_partition(tp, committed=100)
    consumer.held_reread_s = -1.0  # no waiting in a unit test
    seeks: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        seeks.append((partition, offset))

    consumer.seek = seek
    rereads = {"topic": tp.topic}
    before = REGISTRY.get_sample_value("supportflow_partition_rereads_total", rereads) or 0.0

    async def scenario() -> None:
        later = _message(tp, 101)  # 100 was dropped somewhere; 101 was processed
        app.processed(later)
        later.ack(consumer)
        assert consumer._filter_committable_offsets([tp]) == {}
        await asyncio.sleep(0)  # the re-read runs on the loop
        assert seeks == [(tp, 100)]
        assert REGISTRY.get_sample_value("supportflow_partition_rereads_total", rereads) == before + 1
        assert consumer._filter_committable_offsets([tp]) == {}  # 101 still counts once 100 is processed
        record = _message(tp, 100)
        app.processed(record)
        record.ack(consumer)
        assert consumer._filter_committable_offsets([tp]) == {tp: 102}

    asyncio.run(scenario())


def test_consumer_getmany_drops_records_fetched_before_a_seek_of_their_partition(monkeypatch):
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer as FaustBaseConsumer

    tp, other = TP("supportflow.tickets.normalized", 0), TP("supportflow.tickets.normalized", 1)
    _app, consumer = _consumer_with_partition(tp, committed=100)
    consumer.fetches.seeking(tp, 100)
    consumer.fetches.seeking(other, 7)
    seeks: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        seeks.append((partition, offset))

    async def fetch_then_seek(self, timeout):
        # The fetch returns 100..102 and 7..8, but a seek of `tp` to 101 ran while it was in flight.
        self.fetches.seeking(tp, 101)
        rec = lambda p, o: SimpleNamespace(offset=o, timestamp=0, key=b"k", value=b"v", headers=[],  # noqa: E731
                                           checksum=None, serialized_key_size=1, serialized_value_size=1,
                                           timestamp_type=0, topic=p.topic, partition=p.partition)  # fmt: skip
        return {tp: [rec(tp, o) for o in (100, 101, 102)], other: [rec(other, o) for o in (7, 8)]}, None

    monkeypatch.setattr(FaustBaseConsumer, "_wait_next_records", fetch_then_seek)
    consumer.seek = seek
    consumer.flow_active = True
    consumer.highwater = lambda _tp: 0

    async def drain() -> list[tuple[TP, int]]:
        return [(t, m.offset) async for t, m in consumer.getmany(timeout=0.1)]

    delivered = asyncio.run(drain())
    assert delivered == [(other, 7), (other, 8)]  # only the partition no seek touched
    assert seeks == [(tp, 101)]  # read again from where the seek put it


def test_consumer_getmany_fetch_jump_delivers_up_to_it_and_reads_the_range_again(monkeypatch):
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer as FaustBaseConsumer

    tp = TP("supportflow.tickets.normalized", 0)
    _app, consumer = _consumer_with_partition(tp, committed=100)
    consumer.fetches.seeking(tp, 100)
    consumer.fetches.confirm_s = 0.05
    seeks: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        seeks.append((partition, offset))

    async def fetch_with_a_jump(self, timeout):
        rec = lambda o: SimpleNamespace(offset=o, timestamp=0, key=b"k", value=b"v", headers=[],  # noqa: E731
                                        checksum=None, serialized_key_size=1, serialized_value_size=1,
                                        timestamp_type=0, topic=tp.topic, partition=tp.partition)  # fmt: skip
        return {tp: [rec(o) for o in (100, 101, 104, 105)]}, None  # 102..103 not served (yet)

    monkeypatch.setattr(FaustBaseConsumer, "_wait_next_records", fetch_with_a_jump)
    consumer.seek = seek
    consumer.assignment = lambda: {tp}
    consumer.flow_active = True
    consumer.highwater = lambda _tp: 0

    async def drain_then_wait() -> list[int]:
        delivered = [m.offset async for _t, m in consumer.getmany(timeout=0.1)]
        await asyncio.gather(*consumer._background_tasks)
        return delivered

    assert asyncio.run(drain_then_wait()) == [100, 101]
    assert seeks == [(tp, 102)]
    assert consumer.fetches.absent_until(tp, 102) is None


def test_consumer_getmany_changelog_fetched_across_a_rebalance_is_delivered_whole(monkeypatch):
    # Table recovery seeks changelogs itself and reads them to their high watermark: a changelog
    # batch dropped here would never be fetched again, and recovery would wait for it forever.
    from types import SimpleNamespace

    from faust.transport.consumer import Consumer as FaustBaseConsumer

    tp = TP("supportflow.tickets.normalized", 0)
    app, consumer = _consumer_with_partition(tp, committed=100)
    table = app.Table("conversations")
    changelog = TP(table.changelog_topic.get_topic_name(), 1)
    seeks: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        seeks.append((partition, offset))

    async def fetch_across_a_revocation(self, timeout):
        self.fetches.forget(changelog)  # the rebalance ran while this fetch waited for flow to resume
        rec = lambda o: SimpleNamespace(offset=o, timestamp=0, key=b"k", value=b"v", headers=[],  # noqa: E731
                                        checksum=None, serialized_key_size=1, serialized_value_size=1,
                                        timestamp_type=0, topic=changelog.topic, partition=1)  # fmt: skip
        return {changelog: [rec(o) for o in (0, 1, 5, 6)]}, None  # a jump, too: recovery's business

    monkeypatch.setattr(FaustBaseConsumer, "_wait_next_records", fetch_across_a_revocation)
    consumer.seek = seek
    consumer.flow_active = True
    consumer.highwater = lambda _tp: 0

    async def drain() -> list[int]:
        return [m.offset async for _t, m in consumer.getmany(timeout=0.1)]

    assert asyncio.run(drain()) == [0, 1, 5, 6]
    assert seeks == []
    assert not consumer.commit_guard.known(changelog)  # never counted toward a commit either
