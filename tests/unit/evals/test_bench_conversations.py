"""The seeding of ``supportflow bench --conversations``: keys, partitions and values, without a broker."""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest

from supportflow.evals.bench_conversations import (
    EMBEDDING_DIM,
    help_center_answers,
    memory_of,
    partition_for,
    recovery_seconds,
    seeded_states,
)
from supportflow.processors.conversation.state import MAX_ANSWERED_VECTORS, load_state
from supportflow.schemas.models import Author

NOW_MS = 1_796_000_000_000

# Kafka's own test vectors for its murmur2 (clients' UtilsTest): the key and Utils.murmur2's signed result.
KAFKA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.fixture(scope="module")
def seeded() -> list[tuple[bytes, bytes]]:
    return list(seeded_states(120, "test", now_ms=NOW_MS))


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_partition_for_kafka_vectors_matches_default_partitioner(partitions: int) -> None:
    for key, signed in KAFKA_MURMUR2.items():
        # Kafka's default partitioner: toPositive(murmur2(key)) % partitions
        assert partition_for(key, partitions) == (signed & 0x7FFFFFFF) % partitions, key


def test_seeded_states_count_yields_exactly_n_distinct_keys(seeded: list[tuple[bytes, bytes]]) -> None:
    assert len(seeded) == 120
    assert len({key for key, _ in seeded}) == 120
    assert list(seeded_states(0, "test", now_ms=NOW_MS)) == []


def test_seeded_states_keys_spread_over_every_partition(seeded: list[tuple[bytes, bytes]]) -> None:
    counts = Counter(partition_for(key, 4) for key, _ in seeded)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) >= 15  # 30 expected each; murmur2 spreads, it does not balance


def test_seeded_states_values_decode_with_two_to_four_turns(seeded: list[tuple[bytes, bytes]]) -> None:
    turns = Counter()
    for key, value in seeded:
        state = load_state(value)
        assert len(state.senders) == 1, key
        thread = next(iter(state.senders.values()))
        customer = [e for e in thread.entries if e.author is Author.CUSTOMER]
        assert len(customer) == thread.customer_messages == len(thread.decided)
        turns[thread.customer_messages] += 1
        assert thread.last_decision
        assert all(e.ticket_id.startswith(key.decode()) for e in thread.entries)
        assert NOW_MS - thread.updated_at_ms < 49 * 3_600_000  # active: far from the 7-day age limit
    assert set(turns) == {2, 3, 4}


def test_seeded_states_answers_are_redacted_and_vectors_kept(seeded: list[tuple[bytes, bytes]]) -> None:
    vectors = 0
    for _key, value in seeded:
        thread = next(iter(load_state(value).senders.values()))
        answers = [e.text for e in thread.entries if e.author is Author.ASSISTANT]
        assert answers
        assert not any(re.search(r"[\w.]+@[\w.]+", text) for text in answers)  # no address survives
        assert 0 < len(thread.answered_vectors) <= MAX_ANSWERED_VECTORS
        vectors += len(thread.answered_vectors)
    import base64

    one = next(iter(load_state(seeded[0][1]).senders.values())).answered_vectors[0]
    assert len(base64.b64decode(one)) == EMBEDDING_DIM  # int8 per dimension
    assert vectors >= len(seeded)


def test_seeded_states_same_seed_gives_same_values() -> None:
    first = list(seeded_states(5, "r", now_ms=NOW_MS, seed=3))
    again = list(seeded_states(5, "r", now_ms=NOW_MS, seed=3))
    other = list(seeded_states(5, "r", now_ms=NOW_MS, seed=4))
    strip = re.compile(rb'"(at_ms|updated_at_ms)":\d+')
    assert [strip.sub(b"", v) for _, v in first] == [strip.sub(b"", v) for _, v in again]
    assert [v for _, v in first] != [v for _, v in other]


def test_help_center_answers_min_chars_are_whole_sections() -> None:
    answers = help_center_answers(min_chars=200)
    assert len(answers) > 20
    assert all(len(a) >= 200 and not a.startswith("#") and "---" not in a for a in answers)


def test_recovery_seconds_faust_log_spans_restore_to_complete() -> None:
    log = "\n".join([
        "[2026-12-06 19:57:29,565] [1] [INFO] [^---Recovery]: Restoring state from changelog topics... ",
        "[2026-12-06 19:57:31,000] [1] [INFO] [^---Recovery]: Done reading from changelog topics ",
        "[2026-12-06 19:57:32,065] [1] [INFO] [^---Recovery]: Recovery complete ",
    ])  # fmt: skip
    assert recovery_seconds(log) == 2.5
    assert recovery_seconds(log.splitlines()[0]) is None


def test_memory_of_own_process_reports_rss_below_peak() -> None:
    memory = memory_of(os.getpid())
    assert 0 < memory["rss_mib"] <= memory["peak_rss_mib"]
