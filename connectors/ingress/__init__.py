"""Ingress: every channel's raw payload -> the one normalized :class:`~supportflow.schemas.models.Ticket`.

``parse_event`` is the pipeline's entry point; ``events_from_path`` turns files into the same
InboundEvents a webhook would produce; ``count_messages`` counts the customer messages a raw event
holds and ``count_fates`` the outcomes and dead letters the pipeline gives it.
Formats are documented in docs/ingress.md.
"""

from supportflow.connectors.ingress._common import EMAIL_CONTENT_TYPE, JSON_CONTENT_TYPE, TICKET_CONTENT_TYPE
from supportflow.connectors.ingress.files import events_from_path, sniff_json_channel
from supportflow.connectors.ingress.parse import (
    DEFAULT_MAX_BODY_BYTES,
    count_fates,
    count_messages,
    expected_fates,
    parse_event,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "EMAIL_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "TICKET_CONTENT_TYPE",
    "count_fates",
    "count_messages",
    "events_from_path",
    "expected_fates",
    "parse_event",
    "sniff_json_channel",
]
