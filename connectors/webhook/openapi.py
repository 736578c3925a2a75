"""The ingress service's OpenAPI 3.0 document: operations from :mod:`.operations`, schemas generated
from the pydantic models in :mod:`.contract`.

Served at ``/openapi.json`` and shipped as ``supportflow/data/openapi.json`` (``supportflow serve
--write-openapi``); a test fails when the shipped file and this document differ, another when the
documented routes are not exactly the served ones, and a schemathesis run checks the running server
against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from supportflow import __version__
from supportflow.connectors.webhook.contract import CONTRACT_MODELS
from supportflow.connectors.webhook.operations import SCHEMA_REF, error_response, paths
from supportflow.data import data_path

OPENAPI_PATH = data_path("openapi.json")

_DESCRIPTION = (
    "Webhooks and API submissions onto the supportflow ingress topic. A 2xx means the broker "
    "acknowledged the event (acks=all); 503 with Retry-After means it did not and the client "
    'must retry. Every error body is {"error": code, "message": text}, including those the HTTP '
    "layer gives before routing: 408 request_timeout (headers or body too slow), 431 "
    "headers_too_large, 400 bad_request (malformed HTTP)."
)


class OpenApi30Schema(GenerateJsonSchema):
    """JSON Schema as OpenAPI 3.0 takes it: no null type, no ``const``, no titles. Defaults are left
    out: the contract models describe the bodies, the server's parsers apply their own defaults."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        generated = super().literal_schema(schema)
        if "const" in generated:
            generated["enum"] = [generated.pop("const")]
        return generated

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def component_schemas() -> dict[str, Any]:
    """``components.schemas``: every contract model and the models they reference, by class name."""
    _, top = models_json_schema(
        [(model, "validation") for model in CONTRACT_MODELS],
        ref_template=SCHEMA_REF,
        schema_generator=OpenApi30Schema,
    )
    schemas: dict[str, Any] = top["$defs"]
    for schema in schemas.values():
        schema.pop("title", None)
    return schemas


def _security_schemes() -> dict[str, Any]:
    def header(name: str, description: str) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": name, "description": description}

    def bearer(description: str) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": description}

    return {
        "whatsappSignature": header("X-Hub-Signature-256", "sha256=<hex HMAC-SHA256(app secret, raw body)>"),
        "chatSignature": header(
            "X-Supportflow-Signature", "sha256=<hex HMAC-SHA256(secret, timestamp.raw body)>"
        ),
        "chatTimestamp": header("X-Supportflow-Timestamp", "Epoch seconds; signed together with the body."),
        "apiKey": bearer("SUPPORTFLOW_WEBHOOK__API_KEY"),
        "adminToken": bearer("SUPPORTFLOW_WEBHOOK__ADMIN_TOKEN"),
        "zendeskSignature": header(
            "X-Zendesk-Webhook-Signature", "base64 HMAC-SHA256(signing secret, timestamp + raw body)"
        ),
        "zendeskTimestamp": header(
            "X-Zendesk-Webhook-Signature-Timestamp", "Zendesk's signing time; signed together with the body."
        ),
        "freshdeskToken": header("X-Supportflow-Token", "SUPPORTFLOW_FEEDBACK__FRESHDESK_WEBHOOK_TOKEN"),
    }


def build_openapi() -> dict[str, Any]:
    retry_later = "Endpoint not configured (secret unset), or the broker did not acknowledge in time."
    return {
        "openapi": "3.0.3",
        "info": {"title": "supportflow ingress", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": paths(),
        "components": {
            "schemas": component_schemas(),
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            },
            "responses": {
                "RateLimited": error_response(
                    "Too many requests from this client IP (token bucket).", retry_after=True
                ),
                "Unavailable": error_response(retry_later, retry_after=True),
                "TooLarge": error_response("Body over thresholds.max_body_bytes."),
                "UnsupportedMediaType": error_response(
                    "Content-Type not accepted here, or a non-UTF-8 charset."
                ),
            },
            "securitySchemes": _security_schemes(),
        },
    }


def render_openapi() -> str:
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(render_openapi(), encoding="utf-8")
    return path
