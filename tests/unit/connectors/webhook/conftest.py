"""Fixtures for the ingress service tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.connectors.webhook.helpers import MemoryFlags, RecordingSink, make_app


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def client_for(aiohttp_client):
    """``await client_for(sink, **settings_overrides)`` -> a test client on a real loopback server."""

    async def factory(sink: RecordingSink, flags: MemoryFlags | None = None, **overrides: Any):
        return await aiohttp_client(make_app(sink, flags, **overrides))

    return factory
