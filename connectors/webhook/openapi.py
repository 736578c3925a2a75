"""The ingress service's OpenAPI 3.0 contract, written by hand so it says what the code promises.

Served at ``/openapi.json`` and shipped as ``supportflow/data/openapi.json`` (``supportflow serve
--write-openapi``); a test fails when the shipped file and this dict differ, and a schemathesis run
checks the running server against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supportflow import __version__
from supportflow.data import data_path
from supportflow.streams.flag_registry import FLAGS

OPENAPI_PATH = data_path("openapi.json")

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


# Every write can be throttled, unconfigured or unpersisted; each operation lists what else it answers.
_COMMON_WRITE = {"429": _ref("RateLimited"), "503": _ref("Unavailable")}
_ACCEPTED = {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "Stable machine-readable code, e.g. invalid_signature.",
            },
            "message": {"type": "string", "description": "What was wrong, for a human."},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["status", "event_ids"],
        "description": "Every listed event is acknowledged by the broker (acks=all) on the ingress topic.",
        "properties": {
            "status": {"type": "string", "enum": ["accepted"]},
            "event_ids": {
                "type": "array",
                "items": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
                "description": "sha256(channel, raw body): a redelivered request gets the same id.",
            },
        },
    },
    "WhatsAppWebhook": {
        "type": "object",
        "description": "Meta WhatsApp Cloud API webhook envelope (only the fields supportflow reads).",
        "required": ["object", "entry"],
        "properties": {
            "object": {"type": "string", "enum": ["whatsapp_business_account"]},
            "entry": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["changes"],
                    "properties": {
                        "id": {"type": "string"},
                        "changes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["value"],
                                "properties": {
                                    "field": {"type": "string"},
                                    "value": {
                                        "type": "object",
                                        "properties": {
                                            "messaging_product": {"type": "string"},
                                            "metadata": {"type": "object"},
                                            "contacts": {"type": "array", "items": {"type": "object"}},
                                            "messages": {"type": "array", "items": {"type": "object"}},
                                            "statuses": {"type": "array", "items": {"type": "object"}},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "ChatEvent": {
        "type": "object",
        "description": "Chat widget event; type 'message' carries a customer message (docs/ingress.md).",
        "required": ["type", "session_id", "message_id"],
        "properties": {
            "type": {"type": "string", "example": "message"},
            "session_id": {"type": "string", "minLength": 1},
            "message_id": {"type": "string", "minLength": 1},
            "sent_at": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "text": {"type": "string"},
            "sequence": {"type": "integer", "minimum": 1},
            "page_url": {"type": "string"},
            "customer": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "email": {"type": "string"},
                    "name": {"type": "string"},
                    "handle": {"type": "string"},
                },
            },
        },
    },
    "Attachment": {
        "type": "object",
        "required": ["filename"],
        "properties": {
            "filename": {"type": "string"},
            "content_type": {"type": "string"},
            "size_bytes": {"type": "integer", "minimum": 0},
        },
    },
    "ApiTicket": {
        "type": "object",
        "description": "One ticket. Needs text and one of email, phone or customer_id; otherwise 422.",
        "required": ["text"],
        "properties": {
            "ticket_id": {"type": "string", "minLength": 1, "description": "Your id; dedupes resubmissions."},
            "channel": {"type": "string", "enum": ["email", "chat", "whatsapp", "api"]},
            "customer_id": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "phone": {"type": "string"},
            "name": {"type": "string"},
            "subject": {"type": "string"},
            "text": {"type": "string", "minLength": 1},
            "conversation_id": {"type": "string"},
            "created_at": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "FlagAssignment": {
        "type": "object",
        "required": ["name", "value"],
        "properties": {
            "name": {"type": "string", "enum": sorted(FLAGS), "example": "auto_resolve"},
            "value": {
                # Every flag in the registry is a boolean today; the server also takes the words below.
                "type": "boolean",
                "description": (
                    "The flag's value. Boolean flags also accept the strings true/false, on/off, yes/no, "
                    "1/0 (any case) and the integers 1/0; they are stored as a JSON boolean. An unknown "
                    "name or any other value is rejected with 422 invalid_flag."
                ),
                "example": False,
            },
        },
    },
    "FlagSet": {
        "type": "object",
        "required": ["name", "value", "set_at_ms"],
        "properties": {
            "name": {"type": "string"},
            "value": {"description": "The value written, typed (a JSON boolean for a boolean flag)."},
            "set_at_ms": {"type": "integer", "description": "When the control topic acknowledged it."},
        },
    },
    "Flags": {
        "type": "object",
        "required": ["flags"],
        "properties": {"flags": {"type": "object", "additionalProperties": True}},
    },
    "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
}

_PATHS: dict[str, Any] = {
    "/webhooks/whatsapp": {
        "get": {
            "operationId": "whatsappVerify",
            "summary": "WhatsApp webhook subscription handshake",
            "description": "Echoes hub.challenge when hub.mode is 'subscribe' and hub.verify_token matches.",
            "tags": ["webhooks"],
            "parameters": [
                {"name": "hub.mode", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "hub.verify_token", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "hub.challenge", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "The challenge, verbatim.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "400": _error("hub.challenge empty or longer than 256 characters."),
                "403": _error("Wrong mode or verify token."),
                **_COMMON_WRITE,
            },
        },
        "post": {
            "operationId": "whatsappWebhook",
            "summary": "Receive a WhatsApp Cloud API webhook",
            "description": (
                "X-Hub-Signature-256 must be 'sha256=' + hex HMAC-SHA256(app secret, raw body). A correctly "
                "signed body is accepted as-is; if it cannot become a ticket the pipeline dead-letters it."
            ),
            "tags": ["webhooks"],
            "security": [{"whatsappSignature": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WhatsAppWebhook"}}},
            },
            "responses": {
                "200": {"description": "Persisted on the ingress topic.", "content": _ACCEPTED},
                "401": _error("Signature missing or wrong."),
                "413": _ref("TooLarge"),
                "415": _ref("UnsupportedMediaType"),
                **_COMMON_WRITE,
            },
        },
    },
    "/webhooks/chat": {
        "post": {
            "operationId": "chatWebhook",
            "summary": "Receive a chat widget webhook",
            "description": (
                "X-Supportflow-Signature must be 'sha256=' + hex HMAC-SHA256(secret, timestamp + '.' + "
                "raw body) with X-Supportflow-Timestamp in epoch seconds within the replay window "
                "(default 300 s) of server time. A signature is accepted once per window."
            ),
            "tags": ["webhooks"],
            "security": [{"chatSignature": [], "chatTimestamp": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatEvent"}}},
            },
            "responses": {
                "200": {"description": "Persisted on the ingress topic.", "content": _ACCEPTED},
                "401": _error("Signature missing or wrong, stale timestamp, or a replayed request."),
                "413": _ref("TooLarge"),
                "415": _ref("UnsupportedMediaType"),
                **_COMMON_WRITE,
            },
        },
    },
    "/tickets": {
        "post": {
            "operationId": "submitTickets",
            "summary": "Submit tickets (JSON object, JSON array, or JSONL with one ticket per line)",
            "tags": ["api"],
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/ApiTicket"},
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 500,
                                    "items": {"$ref": "#/components/schemas/ApiTicket"},
                                },
                            ]
                        }
                    },
                    # JSON Lines: the array's items, one JSON object per line (also application/jsonl).
                    "application/x-ndjson": {
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/components/schemas/ApiTicket"},
                            "description": "Sent as one ApiTicket JSON object per line, not as a JSON array.",
                        }
                    },
                },
            },
            "responses": {
                "202": {"description": "Every ticket persisted on the ingress topic.", "content": _ACCEPTED},
                "400": _error("Body (or a JSONL line) is not valid UTF-8 JSON."),
                "401": _error("Bearer API key missing or wrong."),
                "413": _ref("TooLarge"),
                "415": _ref("UnsupportedMediaType"),
                "422": _error(
                    "Valid JSON that cannot become a ticket (no text, no sender, unknown channel)."
                ),
                **_COMMON_WRITE,
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: the process is serving",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Up.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "Readiness: the broker answers and the ingress topic exists",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Ready.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
                },
                "503": _error("Broker unreachable, topic missing or producer failed.", retry_after=True),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.0 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "429": _ref("RateLimited"),
            },
        }
    },
    "/admin/flags": {
        "get": {
            "operationId": "getFlags",
            "summary": "Current kill switch and feature flags (as the control topic has them)",
            "tags": ["admin"],
            "security": [{"adminToken": []}],
            "responses": {
                "200": {
                    "description": "Flags.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Flags"}}},
                },
                "401": _error("Admin token missing or wrong."),
                **_COMMON_WRITE,
            },
        },
        "post": {
            "operationId": "setFlag",
            "summary": 'Set one flag, e.g. {"name": "auto_resolve", "value": false} (the kill switch)',
            "tags": ["admin"],
            "security": [{"adminToken": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlagAssignment"}}},
            },
            "responses": {
                "200": {
                    "description": "Acknowledged by the control topic.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlagSet"}}},
                },
                "400": _error("Body is not valid UTF-8 JSON."),
                "401": _error("Admin token missing or wrong."),
                "413": _ref("TooLarge"),
                "415": _ref("UnsupportedMediaType"),
                "422": _error("Not {name, value}, an unknown flag name, or a value of the wrong type."),
                **_COMMON_WRITE,
            },
        },
    },
}


def build_openapi() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "supportflow ingress",
            "version": __version__,
            "description": (
                "Webhooks and API submissions onto the supportflow ingress topic. A 2xx means the broker "
                "acknowledged the event (acks=all); 503 with Retry-After means it did not and the client "
                'must retry. Every error body is {"error": code, "message": text}, including those the HTTP '
                "layer gives before routing: 408 request_timeout (headers or body too slow), 431 "
                "headers_too_large, 400 bad_request (malformed HTTP)."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            },
            "responses": {
                "RateLimited": _error(
                    "Too many requests from this client IP (token bucket).", retry_after=True
                ),
                "Unavailable": _error(
                    "Endpoint not configured (secret unset), or the broker did not acknowledge in time.",
                    retry_after=True,
                ),
                "TooLarge": _error("Body over thresholds.max_body_bytes."),
                "UnsupportedMediaType": _error("Content-Type not accepted here, or a non-UTF-8 charset."),
            },
            "securitySchemes": {
                "whatsappSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Hub-Signature-256",
                    "description": "sha256=<hex HMAC-SHA256(app secret, raw body)>",
                },
                "chatSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Supportflow-Signature",
                    "description": "sha256=<hex HMAC-SHA256(secret, timestamp.raw body)>",
                },
                "chatTimestamp": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Supportflow-Timestamp",
                    "description": "Epoch seconds; signed together with the body.",
                },
                "apiKey": {"type": "http", "scheme": "bearer", "description": "SUPPORTFLOW_WEBHOOK__API_KEY"},
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "SUPPORTFLOW_WEBHOOK__ADMIN_TOKEN",
                },
            },
        },
    }


def render_openapi() -> str:
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(render_openapi(), encoding="utf-8")
    return path
