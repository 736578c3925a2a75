"""Admin access to the kill switch and feature flags on the control topic."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Protocol

from confluent_kafka import KafkaException

from supportflow.schemas.errors import TransientError
from supportflow.streams.flags import FlagWatcher, publish_flag


class FlagStore(Protocol):
    def snapshot(self) -> dict[str, Any]: ...

    async def set(self, name: str, value: Any) -> int:
        """Persist the flag; returns its set time in ms. Raises TransientError when not acknowledged."""
        ...

    async def close(self) -> None: ...


class KafkaFlagStore:
    """Reads flags with the workers' own :class:`FlagWatcher` and writes them with ``publish_flag``.

    Reads are eventually consistent: a ``GET`` right after a ``POST`` may not show the new value until
    the watcher has fetched it back from the topic (typically well under a second).
    """

    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 10.0) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._timeout_s = timeout_s
        self._watcher: FlagWatcher | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        watcher = FlagWatcher(self._bootstrap, self._topic)
        self._watcher = await loop.run_in_executor(None, watcher.start, self._timeout_s)

    def snapshot(self) -> dict[str, Any]:
        if self._watcher is None:
            raise TransientError("flag watcher not started")
        return self._watcher.snapshot()

    async def set(self, name: str, value: Any) -> int:
        loop = asyncio.get_running_loop()
        publish = functools.partial(publish_flag, self._bootstrap, self._topic, name, value, self._timeout_s)
        try:
            return await asyncio.wait_for(loop.run_in_executor(None, publish), self._timeout_s + 1)
        except (TimeoutError, KafkaException, OSError) as exc:
            raise TransientError(f"flag {name} not acknowledged by {self._bootstrap}: {exc}") from exc

    async def close(self) -> None:
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
