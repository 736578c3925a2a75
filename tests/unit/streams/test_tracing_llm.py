"""Model calls in a trace: a child span of the ticket's resolve span, with the GenAI attributes, through
LiteLLM's real client against the loopback OpenAI-compatible server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import SecretStr

from supportflow.processors.llm import LlmUnavailable, RetryPolicy
from supportflow.processors.llm.provider import Endpoint, complete, litellm_module
from supportflow.schemas.models import Source, Tier
from supportflow.settings import ModelTiers
from supportflow.streams import tracing
from supportflow.streams.tracing import HopTrace, TracedTierClient
from tests.fakes.openai_server import Fail, FakeOpenAIServer, Reply, answer_json
from tests.unit.helpers import record

SOURCES = [
    Source(chunk_id="returns#1", article_id="returns", title="Returns", section="How to return",
           text="Start a return from Orders within 30 days of delivery.", score=0.82),
]  # fmt: skip
TICKET_TEXT = "Ana Silva here, ana.silva@example.com: how do I return the boots from NW-100234?"


@pytest.fixture(scope="module", autouse=True)
def _litellm_loaded() -> None:
    litellm_module()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.disable()


def _client(server: FakeOpenAIServer) -> TracedTierClient:
    tiers = ModelTiers(commodity="openai/gpt-4o-mini", api_base=server.base_url,
                       api_key=SecretStr("sk-test-dummy"), timeout_s=2.0, max_retries=0)  # fmt: skip
    return TracedTierClient(tiers, retry=RetryPolicy(backoff_base_s=0.01, backoff_cap_s=0.02))


def _resolve_on_pool_thread(client: TracedTierClient, spans_of: HopTrace) -> None:
    """As the resolve stage does: the ticket's stage span open, the model asked from a pool thread."""
    rec = record()
    with spans_of.stage("resolve", [rec]) as stage, ThreadPoolExecutor(1) as pool:
        ask = pool.submit(
            client.answer, ticket_text=TICKET_TEXT, sources=SOURCES, customer_facts=["order NW-100234"],
            tier=Tier.COMMODITY, ticket_id=rec.ticket.ticket_id,
        )  # fmt: skip
        with contextlib.suppress(LlmUnavailable):
            ask.result()
        stage.done([rec])


def test_otel_llm_call_child_of_resolve_span_with_genai_attributes_and_token_counts(spans, server):
    server.script("gpt-4o-mini", Reply(answer_json("Start a return [returns#1].", ["returns#1"]), 420, 64))

    _resolve_on_pool_thread(_client(server), HopTrace("resolve"))

    by_name = {s.name: s for s in spans.get_finished_spans()}
    resolve, call = by_name["resolve"], by_name["chat openai/gpt-4o-mini"]
    assert call.parent is not None and call.parent.span_id == resolve.context.span_id
    assert call.context.trace_id == resolve.context.trace_id
    assert call.kind == SpanKind.CLIENT
    attributes = dict(call.attributes or {})
    assert attributes["gen_ai.system"] == "openai"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "openai/gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 420
    assert attributes["gen_ai.usage.output_tokens"] == 64
    assert float(attributes["supportflow.cost_usd"]) > 0  # type: ignore[arg-type]
    text = " ".join(str(v) for v in attributes.values())
    assert "ana.silva" not in text and "boots" not in text and "Start a return" not in text


def test_otel_llm_call_failure_error_status_with_class_only(spans, server):
    server.script("gpt-4o-mini", Fail(400, message="bad request mentioning ana.silva@example.com"))

    _resolve_on_pool_thread(_client(server), HopTrace("resolve"))

    (call,) = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    assert call.status.status_code == StatusCode.ERROR
    assert call.status.description == "LlmRequestRejected"
    assert not call.events  # no exception event: its message could quote the provider
    assert "ana.silva" not in str(dict(call.attributes or {}))


def test_otel_llm_call_outside_a_trace_no_span(spans, server):
    server.script("gpt-4o-mini", Reply(answer_json("ok", []), 5, 1))
    endpoint = Endpoint("openai/gpt-4o-mini", server.base_url, "sk-test-dummy", 2.0)

    completion = complete(endpoint, [{"role": "user", "content": "hi"}])

    assert completion.tokens_in == 5
    assert spans.get_finished_spans() == ()
