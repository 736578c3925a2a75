from __future__ import annotations

from collections.abc import Iterator

import pytest

from supportflow.processors.llm.provider import litellm_module
from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session", autouse=True)
def _litellm_loaded() -> None:
    litellm_module()  # pay the multi-second import once, not inside the first timed test


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running
