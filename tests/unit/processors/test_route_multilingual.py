"""route_batch with the default English encoder: tickets in other languages are classified by the
multilingual router (real MiniLM and e5 models), English tickets never touch it."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np

from supportflow.data import data_path
from supportflow.processors.route import route_batch
from supportflow.schemas.models import PipelineRecord
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime, multilingual_routing
from tests.unit.helpers import ticket

SPANISH = "Hola, quiero cancelar mi pedido NW-100214, por favor. Pedí el color equivocado."
GERMAN = "Hallo, wo ist meine Bestellung NW-100214? Sie sollte schon am Montag ankommen. Danke, Laura"
ENGLISH = "Hi, can you tell me where my order NW-100214 is? It was due on Monday. Thanks, Laura"


def _records(*texts: str) -> list[PipelineRecord]:
    return [PipelineRecord(ticket=ticket(text, ticket_id=f"t{i}")) for i, text in enumerate(texts)]


def test_route_batch_spanish_and_german_tickets_get_the_multilingual_routers_intent(runtime: Runtime) -> None:
    ml = runtime.route_ctx.multilingual
    assert ml is not None, "the default deployment routes other languages with the e5 router"
    spanish, german = route_batch(_records(SPANISH, GERMAN), runtime.route_ctx)
    assert spanish.route is not None and german.route is not None
    assert spanish.route.model == german.route.model == ml.router.version
    assert (spanish.route.intent, german.route.intent) == ("cancel_order", "track_order")


def test_route_batch_english_ticket_stays_on_the_main_router(runtime: Runtime) -> None:
    [record] = route_batch(_records(ENGLISH), runtime.route_ctx)
    assert record.route is not None and record.route.model == runtime.route_ctx.router.version
    assert record.route.intent == "track_order"


def test_route_batch_mixed_languages_keeps_order_and_the_main_encoders_vector(runtime: Runtime) -> None:
    texts = (ENGLISH, SPANISH, ENGLISH.upper(), GERMAN)
    routed = route_batch(_records(*texts), runtime.route_ctx)
    assert [r.ticket.ticket_id for r in routed] == ["t0", "t1", "t2", "t3"]
    main = runtime.route_ctx.embedder.encode(list(texts))
    for record, expected in zip(routed, main, strict=True):
        # Retrieval searches the index built with the main encoder: the record carries its vector.
        vector = np.frombuffer(record.embedding, dtype=np.float32)
        assert float(vector @ expected) > 0.999


def test_route_batch_multilingual_router_off_routes_everything_with_the_main_router(runtime: Runtime) -> None:
    assert multilingual_routing(Settings(multilingual_router=False)) is None
    assert multilingual_routing(Settings(embedding_model="multilingual-e5-small")) is None
    english_only = dataclasses.replace(runtime.route_ctx, multilingual=None)
    [record] = route_batch(_records(SPANISH), english_only)
    assert record.route is not None and record.route.model == runtime.route_ctx.router.version


def test_route_batch_translated_dev_rows_mostly_get_their_intent(runtime: Runtime) -> None:
    """The multilingual dev set: far more rows get their own intent than the English router gives
    (16% on these rows, docs/routing.md); a floor that fails if the split stops routing them."""
    with data_path("router", "dev_multilingual.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    routed = route_batch(_records(*(r["text"] for r in rows)), runtime.route_ctx)
    right = sum(
        r.route is not None and r.route.intent == row["label"] for r, row in zip(routed, rows, strict=True)
    )
    assert right / len(rows) >= 0.45
