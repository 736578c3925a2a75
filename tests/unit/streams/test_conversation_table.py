"""ConversationTable.sweep: which conversations it deletes, and only in partitions this worker decides."""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import murmur2

from supportflow.processors.conversation.state import note_customer_message
from supportflow.schemas.models import Channel, PipelineRecord, Ticket
from supportflow.streams import conversations
from supportflow.streams.conversations import ConversationTable

DAY_MS = 24 * 3600 * 1000
PARTITIONS = 4


class _Table(dict):  # type: ignore[type-arg]
    """Stands in for the Faust table: a dict of raw values that notes the partition of every delete."""

    partitions = PARTITIONS

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[tuple[bytes, int]] = []

    def __delitem__(self, key: Any) -> None:
        from faust.streams import current_event

        event = current_event()
        assert event is not None, "a table change outside a partition context"
        self.deleted.append((key, event.message.partition))
        super().__delitem__(key)


def _state(conversation: str, updated_ms: int) -> bytes:
    ticket = Ticket(ticket_id=f"t-{conversation}", conversation_id=conversation, channel=Channel.API, sender="a@b.c",
                    text="hi", received_at_ms=1, ingested_at_ms=1, trace_id="x")  # fmt: skip
    return note_customer_message(PipelineRecord(ticket=ticket), updated_ms)(None)


def _partition(key: bytes) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def test_sweep_idle_conversations_in_active_partitions_deleted_under_their_partition():
    table = _Table()
    now = 100 * DAY_MS
    for i in range(40):
        key = f"conv-{i}".encode()
        table[key] = _state(key.decode(), now - (8 if i % 2 else 1) * DAY_MS)  # odd ones idle 8 days
    active = {0, 1}
    sweeper = ConversationTable(table, "supportflow.tickets.routed", max_age_s=7 * DAY_MS / 1000)
    deleted = sweeper.sweep(active, now_ms=now)
    expected = {k for k in list(table) + [k for k, _ in table.deleted]
                if int(k.decode().split("-")[1]) % 2 and _partition(k) in active}  # fmt: skip
    assert deleted == len(expected) > 0
    assert {k for k, _ in table.deleted} == expected
    assert all(partition == _partition(key) for key, partition in table.deleted)
    assert all(_partition(k) not in active or int(k.decode().split("-")[1]) % 2 == 0 for k in table)


def test_sweep_visits_at_most_a_batch_and_continues_where_it_stopped(monkeypatch):
    monkeypatch.setattr(conversations, "SWEEP_BATCH", 10)
    table = _Table()
    now = 100 * DAY_MS
    for i in range(25):
        table[f"conv-{i}".encode()] = _state(f"conv-{i}", now - 8 * DAY_MS)
    sweeper = ConversationTable(table, "t", max_age_s=7 * DAY_MS / 1000)
    every = set(range(PARTITIONS))
    assert [sweeper.sweep(every, now_ms=now) for _ in range(3)] == [10, 10, 5]
    assert not table


def test_sweep_max_age_zero_never_deletes():
    table = _Table()
    table[b"conv-1"] = _state("conv-1", 0)
    assert ConversationTable(table, "t", max_age_s=0).sweep({0, 1, 2, 3}, now_ms=10**12) == 0


def test_remove_dead_table_dirs_keeps_live_workers_folders(tmp_path):
    import os

    from supportflow.streams.worker import remove_dead_table_dirs

    base = tmp_path / "tables" / "supportflow"
    own, live, dead = base / "worker-1", base / f"worker-{os.getppid()}", base / "worker-999999999"
    for folder in (own, live, dead):
        folder.mkdir(parents=True)
    remove_dead_table_dirs(own)
    assert sorted(p.name for p in base.iterdir()) == [live.name]


class _Recording(_Table):
    """Also records every write, with its partition."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[bytes, int]] = []

    def __setitem__(self, key: Any, value: Any) -> None:
        from faust.streams import current_event

        event = current_event()
        assert event is not None
        self.writes.append((key, event.message.partition))
        super().__setitem__(key, value)


def _book_with_two_ops_on_one_key() -> tuple[Any, dict[bytes, tuple[str, int]]]:
    from supportflow.processors.conversation.state import StateBook

    book = StateBook({b"c": None})
    book.apply(b"c", lambda raw: (raw or b"") + b"1")
    book.apply(b"c", lambda raw: (raw or b"") + b"2")
    return book, {b"c": ("routed", 3)}


def test_commit_single_writer_writes_final_value_once_per_key():
    table = _Recording()
    book, keys = _book_with_two_ops_on_one_key()
    ConversationTable(table, "routed", 0, merge=False).commit(book, keys)
    assert table.writes == [(b"c", 3)] and table[b"c"] == b"12"


def test_commit_several_writers_applies_each_op_to_current_value():
    table = _Recording()
    dict.__setitem__(table, b"c", b"0")  # another hop wrote since the batch read the value
    book, keys = _book_with_two_ops_on_one_key()
    ConversationTable(table, "routed", 0, merge=True).commit(book, keys)
    assert table[b"c"] == b"012" and table.writes == [(b"c", 3), (b"c", 3)]
