import uuid

import pytest

from supportflow.streams.embedded import EmbeddedBroker


@pytest.fixture(scope="session")
def broker():
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture
def unique():
    return lambda name: f"{name}-{uuid.uuid4().hex[:8]}"
