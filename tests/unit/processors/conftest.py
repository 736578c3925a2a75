"""Fixtures shared by the processors' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supportflow.connectors.crm import open_crm
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    """The default deployment's stages (models, router, in-memory help center), built once: the route
    tests only read it."""
    settings = Settings()
    rt = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    yield rt
    rt.kb.close()
