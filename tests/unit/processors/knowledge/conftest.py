"""Shared fixtures: a real in-memory Qdrant with the bundled help center, and the CRM fixture."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from qdrant_client import QdrantClient

from supportflow.data import data_path
from supportflow.processors.knowledge import Article, KnowledgeBase, load_articles
from supportflow.schemas.models import CustomerContext, Order


@pytest.fixture(scope="session")
def helpcenter() -> list[Article]:
    return load_articles(data_path("helpcenter"))


@pytest.fixture(scope="session")
def helpcenter_kb(helpcenter: list[Article]) -> Iterator[KnowledgeBase]:
    """The bundled help center indexed once per session (embedding ~180 chunks takes a few seconds)."""
    kb = KnowledgeBase(QdrantClient(location=":memory:"), "helpcenter-test")
    kb.index(helpcenter)
    yield kb
    kb.close()


@pytest.fixture
def empty_kb() -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(QdrantClient(location=":memory:"), "scratch")
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def crm_customer() -> Callable[[str], CustomerContext]:
    """Build a customer's CRM context from the shipped fixture (what the CRM connector returns)."""
    return _crm_customer


def _crm_customer(customer_id: str) -> CustomerContext:
    fixture = json.loads(data_path("crm", "customers.json").read_text(encoding="utf-8"))
    record = next(c for c in fixture["customers"] if c["customer_id"] == customer_id)
    orders = [
        Order(**{k: v for k, v in o.items() if k != "customer_id"})
        for o in fixture["orders"]
        if o["customer_id"] == customer_id
    ]
    return CustomerContext(**record, orders=orders)


def make_articles(**bodies: str) -> list[Article]:
    return [
        Article(id=name, title=name.replace("-", " ").title(), url=f"https://kb.example/{name}", body=body,
                updated="2026-01-01")
        for name, body in bodies.items()
    ]  # fmt: skip


@pytest.fixture(scope="session")
def articles() -> Callable[..., list[Article]]:
    """``articles(**{"article-id": "markdown body"})`` -> tiny articles for fast index tests."""
    return make_articles
