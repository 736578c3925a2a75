"""The OpenAPI document: shipped copy current, valid 3.0, and in step with the routes that exist."""

from __future__ import annotations

import json

import pytest
import schemathesis

from supportflow.connectors.webhook.contract import CONTRACT_MODELS
from supportflow.connectors.webhook.openapi import OPENAPI_PATH, build_openapi, render_openapi
from tests.unit.connectors.webhook.helpers import RecordingSink, make_app


def test_openapi_shipped_file_is_current():
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render_openapi(), (
        "supportflow/data/openapi.json is stale: run `supportflow serve --write-openapi`"
    )


def test_openapi_document_loads_as_valid_openapi_3():
    schema = schemathesis.openapi.from_dict(build_openapi())
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /webhooks/whatsapp", "POST /webhooks/chat", "POST /tickets", "POST /admin/flags",
    }  # fmt: skip


def test_openapi_documents_exactly_the_served_routes():
    app = make_app(RecordingSink())
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, item in build_openapi()["paths"].items() for method in item}
    assert served == documented


@pytest.mark.parametrize("status", ["401", "413", "415", "429", "503"])
def test_openapi_every_signed_write_documents_rejections(status):
    paths = build_openapi()["paths"]
    for path in ("/webhooks/whatsapp", "/webhooks/chat", "/tickets"):
        assert status in paths[path]["post"]["responses"], f"{path} does not document {status}"


def test_openapi_is_json_serializable_and_references_resolve():
    doc = build_openapi()
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = doc
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]


def test_openapi_component_schemas_contract_models_render_as_openapi_3_0():
    schemas = build_openapi()["components"]["schemas"]
    assert set(schemas) >= {model.__name__ for model in CONTRACT_MODELS}
    text = json.dumps(schemas)
    # JSON Schema 2020-12 spellings that OpenAPI 3.0 does not have; defaults belong to the parsers.
    for keyword in ('"const"', '"$defs"', '"null"', '"default"', '"title"', '"examples"'):
        assert keyword not in text, f"{keyword} in components.schemas"
    assert schemas["ApiTicket"]["required"] == ["text"]
    assert schemas["Accepted"]["properties"]["status"] == {"enum": ["accepted"], "type": "string"}
