"""POST /tickets with the privileged key marks its events; the ordinary key never does."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from supportflow.schemas import wire
from supportflow.schemas.models import InboundEvent
from supportflow.settings import WebhookSettings
from tests.unit.connectors.webhook.helpers import SECRETS, compact

PRIVILEGED = "priv-key-789"
JSON = {"Content-Type": "application/json"}
BODY = compact({"ticket_id": "t-1", "customer_id": "cus_0002", "text": "Where is my order?"})


def _events(sink) -> list[InboundEvent]:
    return [wire.decode(value, InboundEvent) for _, _, value in sink.records]


@pytest.mark.asyncio
@pytest.mark.parametrize(("token", "privileged"), [(PRIVILEGED, True), (SECRETS["api_key"], False)])
async def test_tickets_key_used_sets_privileged_flag(client_for, sink, token, privileged):
    client = await client_for(sink, privileged_api_key=PRIVILEGED)
    resp = await client.post("/tickets", data=BODY, headers={**JSON, "Authorization": f"Bearer {token}"})
    assert resp.status == 202, await resp.text()
    assert [e.privileged for e in _events(sink)] == [privileged]


@pytest.mark.asyncio
async def test_tickets_privileged_key_unset_by_default_401(client_for, sink):
    client = await client_for(sink)
    resp = await client.post("/tickets", data=BODY, headers={**JSON, "Authorization": f"Bearer {PRIVILEGED}"})
    assert resp.status == 401 and sink.records == []


@pytest.mark.parametrize(
    "settings",
    [{"privileged_api_key": "k"}, {"api_key": "k", "privileged_api_key": "k"},
     {"api_key": "a", "admin_token": "k", "privileged_api_key": "k"}],
    ids=["without-api-key", "same-as-api-key", "same-as-admin-token"],
)  # fmt: skip
def test_webhook_settings_privileged_key_not_its_own_rejected(settings):
    with pytest.raises(ValidationError, match="privileged_api_key"):
        WebhookSettings(**settings)


def test_webhook_settings_privileged_key_default_off():
    assert WebhookSettings().privileged_api_key is None
