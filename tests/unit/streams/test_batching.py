"""run_overlapped: batches form while the previous one is handled; acks only after handling."""

import asyncio

import pytest

from supportflow.streams.batching import run_overlapped


async def _source(items, pulled=None):
    for item in items:
        if pulled is not None:
            pulled.append(item)
        yield item
        await asyncio.sleep(0)


def test_run_overlapped_source_ends_every_event_handled_then_acked_in_order():
    log = []

    async def handle(batch):
        log.append(("handle", list(batch)))

    async def ack(event):
        log.append(("ack", event))

    asyncio.run(run_overlapped(_source(range(10)), handle, ack, max_batch=4))
    handled = [e for kind, batch in log if kind == "handle" for e in batch]
    acked = [e for kind, e in log if kind == "ack"]
    assert handled == list(range(10)) and acked == list(range(10))
    for kind, batch in log:  # each event is acked after the batch that holds it was handled
        if kind == "handle":
            assert all(log.index(("ack", e)) > log.index((kind, batch)) for e in batch)


def test_run_overlapped_slow_handler_next_batch_collected_meanwhile():
    batches = []
    release = asyncio.Event()

    async def handle(batch):
        batches.append(list(batch))
        if len(batches) == 1:
            await release.wait()

    async def ack(_event):
        pass

    async def main():
        async def unblock():
            while len(batches) < 1:
                await asyncio.sleep(0)
            for _ in range(50):  # let the collector run while batch 1 is in the handler
                await asyncio.sleep(0)
            release.set()

        await asyncio.gather(run_overlapped(_source(range(6)), handle, ack, max_batch=64), unblock())

    asyncio.run(main())
    assert batches[0] == [0] and batches[1] == [1, 2, 3, 4, 5]


def test_run_overlapped_handler_blocked_source_not_pulled_past_bound():
    pulled = []
    release = asyncio.Event()

    async def handle(_batch):
        await release.wait()

    async def ack(_event):
        pass

    async def main():
        task = asyncio.ensure_future(run_overlapped(_source(range(100), pulled), handle, ack, max_batch=4))
        for _ in range(200):
            await asyncio.sleep(0)
        in_flight_and_pending = len(pulled)
        release.set()
        await task
        return in_flight_and_pending

    # one event in the handler, at most max_batch waiting behind it
    assert asyncio.run(main()) <= 1 + 4
    assert pulled == list(range(100))


def test_run_overlapped_handler_fails_error_raised_batch_not_acked():
    acked = []

    async def handle(batch):
        if 3 in batch:
            raise RuntimeError("stage thread died")

    async def ack(event):
        acked.append(event)

    async def source():
        for item in range(6):
            yield item
            await asyncio.sleep(0.001)

    with pytest.raises(RuntimeError, match="stage thread died"):
        asyncio.run(run_overlapped(source(), handle, ack, max_batch=64))
    assert 3 not in acked and acked == sorted(acked)


def test_run_overlapped_source_fails_error_raised():
    async def source():
        yield 1
        raise ConnectionError("broker gone")

    async def handle(_batch):
        pass

    async def ack(_event):
        pass

    with pytest.raises(ConnectionError):
        asyncio.run(run_overlapped(source(), handle, ack, max_batch=8))


def test_run_overlapped_handed_back_events_return_with_later_events_of_their_key_then_acked():
    log = []
    handed_back = set()

    async def handle(batch):
        log.append(("handle", list(batch)))
        # hand back the first time it is seen every event of key "a" (events are (key, n) pairs)
        deferred = [(e, 0.05) for e in batch if e[0] == "a" and e not in handed_back]
        handed_back.update(e for e, _ in deferred)
        return deferred

    async def ack(event):
        log.append(("ack", event))

    events = [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    asyncio.run(run_overlapped(_source(events), handle, ack, max_batch=1, key=lambda e: e[0]))
    acked = [e for kind, e in log if kind == "ack"]
    assert sorted(acked) == sorted(events)  # every event acked exactly once
    assert acked.index(("a", 1)) < acked.index(("a", 2))  # one key's events stay in order
    assert acked.index(("b", 1)) < acked.index(("a", 1))  # other keys were not held up
    last_a = [batch for kind, batch in log if kind == "handle" and ("a", 1) in batch][-1]
    assert ("a", 2) in last_a  # the later event of the held key was handled with it


def test_run_overlapped_source_ends_while_events_held_they_are_still_handled():
    acked = []
    calls = []

    async def handle(batch):
        calls.append(list(batch))
        return [(e, 0.05) for e in batch] if len(calls) == 1 else []  # handed back the first time only

    async def ack(event):
        acked.append(event)

    asyncio.run(run_overlapped(_source([3]), handle, ack, max_batch=4, key=lambda e: e))
    assert calls == [[3], [3]] and acked == [3]
