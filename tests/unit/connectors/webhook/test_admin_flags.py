"""``POST /admin/flags``: known flags only, values of their type, booleans stored as JSON booleans."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.connectors.webhook.helpers import SECRETS, MemoryFlags

pytestmark = pytest.mark.asyncio

AUTH = {"Authorization": f"Bearer {SECRETS['admin_token']}"}


@pytest.mark.parametrize(
    ("value", "stored"),
    [("false", False), ("False", False), ("off", False), ("NO", False), ("0", False), (0, False),
     (False, False), ("on", True), ("Yes", True), (1, True), (True, True)],
)  # fmt: skip
async def test_admin_set_flag_boolean_words_stored_as_json_boolean(client_for, sink, value, stored):
    flags = MemoryFlags()
    flags.flags["auto_resolve"] = not stored
    client = await client_for(sink, flags)
    resp = await client.post("/admin/flags", json={"name": "auto_resolve", "value": value}, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["value"] is stored
    assert flags.flags["auto_resolve"] is stored


@pytest.mark.parametrize("value", ["nope", "", "2", 2, -1, 1.5, None, [], {}, [False], {"value": False}])
async def test_admin_set_flag_wrong_type_422_error_shape(client_for, sink, value: Any):
    flags = MemoryFlags()
    client = await client_for(sink, flags)
    resp = await client.post("/admin/flags", json={"name": "auto_resolve", "value": value}, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert set(body) == {"error", "message"} and body["error"] == "invalid_flag"
    assert body["message"].startswith("auto_resolve takes a boolean") and "\n" not in body["message"]
    assert flags.flags == {"auto_resolve": True}


@pytest.mark.parametrize("name", ["auto_reslove", "AUTO_RESOLVE", "max_tier", 7])
async def test_admin_set_flag_unknown_name_422_error_shape(client_for, sink, name: Any):
    flags = MemoryFlags()
    client = await client_for(sink, flags)
    resp = await client.post("/admin/flags", json={"name": name, "value": False}, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "invalid_flag"
    assert "unknown flag" in body["message"] or "name must be a string" in body["message"]
    assert flags.flags == {"auto_resolve": True}
