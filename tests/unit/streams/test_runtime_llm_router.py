"""The route stage consults the optional LLM router when settings enable it (loopback provider)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.llm.provider import litellm_module
from supportflow.schemas import wire
from supportflow.schemas.models import Band
from supportflow.settings import LlmRouterSettings, Settings
from supportflow.streams.runtime import Runtime
from tests.fakes.openai_server import FakeOpenAIServer, Reply

MODEL = "openai/router-test"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    litellm_module()
    verdict = json.dumps({"intent": "oos", "confidence": 0.9, "reason": "none fits"})
    with FakeOpenAIServer(default=Reply(verdict)) as running:
        yield running


def _runtime(llm_router: LlmRouterSettings) -> Runtime:
    settings = Settings(llm_router=llm_router)
    return Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)


def test_runtime_llm_router_enabled_relabels_only_the_uncertain_middle(server: FakeOpenAIServer) -> None:
    settings = LlmRouterSettings(
        enabled=True, model=MODEL, api_base=server.base_url, api_key=SecretStr("sk-x")
    )
    runtime = _runtime(settings)
    assert runtime.route_ctx.llm_router is not None
    records = [r for e in bench_events(120) for r in runtime.normalize(wire.encode(e))]
    routed = runtime.route(records)
    asked = [r for r in routed if any(x.startswith("llm_router:") for x in r.route.reasons)]
    assert asked, "the bundled samples should put some tickets in the uncertain middle"
    assert len(server.requests_for(MODEL)) == len(asked)
    for record in asked:
        assert record.route is not None and record.route.band != Band.AUTO
        assert record.route.intent == "oos" or "llm_router:intent=oos" in record.route.reasons
    # Every other ticket is decided exactly as without the LLM router.
    baseline = {r.ticket.ticket_id: r.route for r in _runtime(LlmRouterSettings()).route(records)}
    asked_ids = {r.ticket.ticket_id for r in asked}
    others = [r for r in routed if r.ticket.ticket_id not in asked_ids]
    assert others and all(r.route == baseline[r.ticket.ticket_id] for r in others)


def test_runtime_llm_router_default_off_no_client() -> None:
    assert _runtime(LlmRouterSettings()).route_ctx.llm_router is None
