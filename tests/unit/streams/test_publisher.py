"""Publisher failure reporting, with a real librdkafka producer and no broker (a closed loopback port)."""

import asyncio
import socket

import pytest

from supportflow.streams.publisher import Publisher, PublishError
from supportflow.streams.transport import PipelineApp


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_publisher_flush_unreachable_broker_raises_publish_error():
    publisher = Publisher(f"127.0.0.1:{_closed_port()}", config={"message.timeout.ms": 300})

    async def run() -> None:
        await publisher.produce("tickets.routed", b"t-1", b"value")
        await publisher.flush(timeout_s=10)

    with pytest.raises(PublishError, match="1 failed"):
        asyncio.run(run())
    assert publisher.close(timeout_s=1) == 0  # the failure was reported once, by flush


def test_publisher_flush_failure_raises_at_every_later_flush():
    publisher = Publisher(f"127.0.0.1:{_closed_port()}", config={"message.timeout.ms": 300})

    async def run() -> None:
        await publisher.produce("t", None, b"v")
        with pytest.raises(PublishError):
            await publisher.flush(timeout_s=10)
        # Nothing outstanding now, but the lost record's input was acked: a later commit (the one Faust
        # makes while stopping after the crash) must not pass it.
        with pytest.raises(PublishError, match="1 failed"):
            await publisher.flush(timeout_s=1)

    asyncio.run(run())
    publisher.close(timeout_s=1)


def test_publisher_close_unacknowledged_records_counted():
    publisher = Publisher(f"127.0.0.1:{_closed_port()}", config={"message.timeout.ms": 60_000})

    async def run() -> None:
        for i in range(3):
            await publisher.produce("t", str(i).encode(), b"v")

    asyncio.run(run())
    assert publisher.close(timeout_s=0.5) == 3


def test_pipeline_app_producer_flush_publisher_failure_raises():
    # Faust awaits app.producer.flush() before every offset commit; a failed output must stop it.
    app = PipelineApp("publisher-hook-test", broker=f"kafka://127.0.0.1:{_closed_port()}")
    app.publisher = Publisher(f"127.0.0.1:{_closed_port()}", config={"message.timeout.ms": 300})

    async def run() -> None:
        await app.publisher.produce("t", b"k", b"v")
        await app.producer.flush()

    with pytest.raises(PublishError):
        asyncio.run(run())
    app.publisher.close(timeout_s=1)


def test_publisher_flush_no_timeout_waits_until_librdkafka_gives_up():
    # No deadline of our own: the record settles (fails) when its message.timeout.ms runs out.
    publisher = Publisher(f"127.0.0.1:{_closed_port()}", config={"message.timeout.ms": 1500})

    async def run() -> float:
        await publisher.produce("t", b"k", b"v")
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(PublishError, match="0 records unacknowledged, 1 failed"):
            await publisher.flush()
        return loop.time() - start

    assert asyncio.run(run()) >= 1.0  # waited past one flush slice, for librdkafka's verdict
    publisher.close(timeout_s=1)
