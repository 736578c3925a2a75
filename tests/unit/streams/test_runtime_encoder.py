"""A worker refuses to start when its encoder is not the one its router was trained on."""

from __future__ import annotations

import pytest

from supportflow.connectors.crm import open_crm
from supportflow.processors import embedding
from supportflow.schemas.errors import PermanentError
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime


def test_runtime_build_encoder_other_than_routers_refuses_to_start() -> None:
    try:
        # The shipped router was trained on int8-compute vectors.
        with pytest.raises(PermanentError, match=r"trained on .* vectors but this worker embeds with"):
            settings = Settings(embedding_compute="fp32")
            Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    finally:
        embedding.configure(None)


def test_runtime_build_default_encoder_matches_shipped_router() -> None:
    settings = Settings()
    runtime = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    assert runtime.route_ctx.embedder.model_id == runtime.route_ctx.router.encoder
    assert runtime.route_ctx.embedder.compute == "int8"
