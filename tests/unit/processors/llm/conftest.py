from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ holds shared fakes (tests/fakes); make it importable however pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from fakes.openai_server import FakeOpenAIServer
from supportflow.processors.llm.provider import litellm_module


@pytest.fixture(scope="session", autouse=True)
def _litellm_loaded() -> None:
    litellm_module()  # pay the multi-second import once, not inside the first timed test


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running
