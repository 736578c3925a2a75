"""What each route of the ingress service takes and answers: the ``paths`` of the OpenAPI document.

One :class:`Operation` per served method and path (a test checks the two sets are equal). A response
given as a string is an error response with that description and the ``Error`` body; shared responses
(rate limit, unavailable, body limits) are ``$ref``s to ``components.responses``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_REF = "#/components/schemas/{model}"
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}


def schema_ref(model: str) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=model)}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def error_response(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": json_content(schema_ref("Error"))}
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


def _ok(description: str, model: str) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema_ref(model))}


def _shared(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


# Every write can be throttled, unconfigured or unpersisted; each operation lists what else it answers.
_COMMON_WRITE = {"429": _shared("RateLimited"), "503": _shared("Unavailable")}
_BODY_LIMITS = {"413": _shared("TooLarge"), "415": _shared("UnsupportedMediaType")}
_PERSISTED = _ok("Persisted on the ingress topic.", "Accepted")
_ADMIN_DENIED = "Admin token missing or wrong."
_API_TICKET = schema_ref("ApiTicket")
_FEEDBACK_RECORD = schema_ref("FeedbackRecord")
_FEEDBACK_DONE = _ok(
    "Persisted on the feedback topic (accepted), or no feedback in it (ignored).", "FeedbackAccepted"
)
_FEEDBACK_DEAD = _ok("Signed but not feedback: kept on the dead-letter topic.", "FeedbackAccepted")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    responses: dict[str, str | dict[str, Any]]  # status -> error description, or a response object
    description: str = ""
    security: dict[str, list[str]] = field(default_factory=dict)  # schemes required together
    query: tuple[str, ...] = ()  # required string query parameters
    body: dict[str, Any] | None = None  # the request body's content, by media type

    def as_openapi(self) -> dict[str, Any]:
        operation: dict[str, Any] = {"operationId": self.operation_id, "summary": self.summary}
        if self.description:
            operation["description"] = self.description
        operation["tags"] = [self.tag]
        if self.query:
            operation["parameters"] = [
                {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
                for name in self.query
            ]
        if self.security:
            operation["security"] = [self.security]
        if self.body is not None:
            operation["requestBody"] = {"required": True, "content": self.body}
        operation["responses"] = {
            status: error_response(answer) if isinstance(answer, str) else answer
            for status, answer in self.responses.items()
        }
        return operation


OPERATIONS = (
    Operation(
        "get", "/webhooks/whatsapp", "whatsappVerify", "WhatsApp webhook subscription handshake", "webhooks",
        description="Echoes hub.challenge when hub.mode is 'subscribe' and hub.verify_token matches.",
        query=("hub.mode", "hub.verify_token", "hub.challenge"),
        responses={
            "200": {
                "description": "The challenge, verbatim.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "400": "hub.challenge empty or longer than 256 characters.",
            "403": "Wrong mode or verify token.",
            **_COMMON_WRITE,
        },
    ),
    Operation(
        "post", "/webhooks/whatsapp", "whatsappWebhook", "Receive a WhatsApp Cloud API webhook", "webhooks",
        description=(
            "X-Hub-Signature-256 must be 'sha256=' + hex HMAC-SHA256(app secret, raw body). A correctly "
            "signed body is accepted as-is; if it cannot become a ticket the pipeline dead-letters it."
        ),
        security={"whatsappSignature": []},
        body=json_content(schema_ref("WhatsAppWebhook")),
        responses={"200": _PERSISTED, "401": "Signature missing or wrong.", **_BODY_LIMITS, **_COMMON_WRITE},
    ),
    Operation(
        "post", "/webhooks/chat", "chatWebhook", "Receive a chat widget webhook", "webhooks",
        description=(
            "X-Supportflow-Signature must be 'sha256=' + hex HMAC-SHA256(secret, timestamp + '.' + "
            "raw body) with X-Supportflow-Timestamp in epoch seconds within the replay window "
            "(default 300 s) of server time. A signature is accepted once per window."
        ),
        security={"chatSignature": [], "chatTimestamp": []},
        body=json_content(schema_ref("ChatEvent")),
        responses={
            "200": _PERSISTED, "401": "Signature missing or wrong, stale timestamp, or a replayed request.",
            **_BODY_LIMITS, **_COMMON_WRITE,
        },
    ),
    Operation(
        "post", "/tickets", "submitTickets",
        "Submit tickets (JSON object, JSON array, or JSONL with one ticket per line)", "api",
        security={"apiKey": []},
        body={
            **json_content({"oneOf": [
                _API_TICKET, {"type": "array", "minItems": 1, "maxItems": 500, "items": _API_TICKET},
            ]}),
            # JSON Lines: the array's items, one JSON object per line (also application/jsonl).
            "application/x-ndjson": {"schema": {
                "type": "array", "minItems": 1, "items": _API_TICKET,
                "description": "Sent as one ApiTicket JSON object per line, not as a JSON array.",
            }},
        },
        responses={
            "202": _ok("Every ticket persisted on the ingress topic.", "Accepted"),
            "400": "Body (or a JSONL line) is not valid UTF-8 JSON.",
            "401": "Bearer API key missing or wrong.",
            **_BODY_LIMITS,
            "422": "Valid JSON that cannot become a ticket (no text, no sender, unknown channel).",
            **_COMMON_WRITE,
        },
    ),
    Operation(
        "post", "/webhooks/zendesk/feedback", "zendeskFeedback", "Receive a Zendesk webhook carrying feedback",
        "feedback",
        description=(
            "X-Zendesk-Webhook-Signature must be base64 HMAC-SHA256(signing secret, "
            "X-Zendesk-Webhook-Signature-Timestamp + raw body), the timestamp within the replay window. "
            "Ticket events (status_changed, comment_added) and satisfaction ratings become feedback; a "
            "signed body that cannot is dead-lettered (202)."
        ),
        security={"zendeskSignature": [], "zendeskTimestamp": []},
        body=json_content(schema_ref("HelpdeskWebhook")),
        responses={
            "200": _FEEDBACK_DONE, "202": _FEEDBACK_DEAD, "401": "Signature missing or wrong, stale or replayed.",
            **_BODY_LIMITS, **_COMMON_WRITE,
        },
    ),
    Operation(
        "post", "/webhooks/freshdesk/feedback", "freshdeskFeedback",
        "Receive a Freshdesk automation webhook carrying feedback", "feedback",
        description=(
            "X-Supportflow-Token must equal the configured Freshdesk webhook token. Status changes, "
            "replies and satisfaction ratings become feedback; a body that cannot is dead-lettered (202)."
        ),
        security={"freshdeskToken": []},
        body=json_content(schema_ref("HelpdeskWebhook")),
        responses={
            "200": _FEEDBACK_DONE, "202": _FEEDBACK_DEAD, "401": "Token missing or wrong.",
            **_BODY_LIMITS, **_COMMON_WRITE,
        },
    ),
    Operation(
        "post", "/feedback", "submitFeedback",
        "Submit feedback records (JSON object, JSON array, or JSONL with one record per line)", "feedback",
        security={"apiKey": []},
        body={
            **json_content({"oneOf": [
                _FEEDBACK_RECORD, {"type": "array", "minItems": 1, "maxItems": 500, "items": _FEEDBACK_RECORD},
            ]}),
            "application/x-ndjson": {"schema": {
                "type": "array", "minItems": 1, "items": _FEEDBACK_RECORD,
                "description": "Sent as one FeedbackRecord JSON object per line, not as a JSON array.",
            }},
        },
        responses={
            "200": _ok("No record held feedback.", "FeedbackAccepted"),
            "202": _ok("Every record persisted on the feedback topic.", "FeedbackAccepted"),
            "400": "Body (or a JSONL line) is not valid UTF-8 JSON.",
            "401": "Bearer API key missing or wrong.",
            **_BODY_LIMITS,
            "422": "A record that cannot become feedback (no ticket id, unknown kind, csat without score).",
            **_COMMON_WRITE,
        },
    ),
    Operation(
        "get", "/healthz", "healthz", "Liveness: the process is serving", "operations",
        responses={"200": _ok("Up.", "Status")},
    ),
    Operation(
        "get", "/readyz", "readyz", "Readiness: the broker answers and the ingress topic exists",
        "operations",
        responses={
            "200": _ok("Ready.", "Status"),
            "503": error_response("Broker unreachable, topic missing or producer failed.", retry_after=True),
        },
    ),
    Operation(
        "get", "/openapi.json", "openapi", "This document", "operations",
        responses={
            "200": {"description": "OpenAPI 3.0 document.", "content": json_content({"type": "object"})},
            "429": _shared("RateLimited"),
        },
    ),
    Operation(
        "get", "/admin/flags", "getFlags",
        "Current kill switch and feature flags (as the control topic has them)", "admin",
        security={"adminToken": []},
        responses={"200": _ok("Flags.", "Flags"), "401": _ADMIN_DENIED, **_COMMON_WRITE},
    ),
    Operation(
        "post", "/admin/flags", "setFlag",
        'Set one flag, e.g. {"name": "auto_resolve", "value": false} (the kill switch)', "admin",
        security={"adminToken": []},
        body=json_content(schema_ref("FlagAssignment")),
        responses={
            "200": _ok("Acknowledged by the control topic.", "FlagSet"),
            "400": "Body is not valid UTF-8 JSON.",
            "401": _ADMIN_DENIED,
            **_BODY_LIMITS,
            "422": "Not {name, value}, an unknown flag name, or a value of the wrong type.",
            **_COMMON_WRITE,
        },
    ),
)  # fmt: skip


def paths() -> dict[str, Any]:
    """``paths``: every operation under its path, keyed by method."""
    documented: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        documented.setdefault(operation.path, {})[operation.method] = operation.as_openapi()
    return documented
