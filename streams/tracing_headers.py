"""The W3C trace context in Kafka record headers, through ``opentelemetry.propagate`` (whatever
``OTEL_PROPAGATORS`` names; ``tracecontext,baggage`` by default), as the OpenTelemetry Kafka
instrumentations carry it: a getter and a setter over confluent-kafka's list of (key, bytes) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

#: Kafka record headers as confluent-kafka takes them and Faust hands them over.
Headers = list[tuple[str, bytes]]


class KafkaHeadersGetter(Getter[Sequence[tuple[str, bytes]]]):
    def get(self, carrier: Sequence[tuple[str, bytes]], key: str) -> list[str] | None:
        values = [_text(v) for k, v in carrier if k.lower() == key]
        return values or None

    def keys(self, carrier: Sequence[tuple[str, bytes]]) -> list[str]:
        return [k for k, _ in carrier]


class KafkaHeadersSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier.append((key, value.encode("ascii", "replace")))


_GETTER = KafkaHeadersGetter()
_SETTER = KafkaHeadersSetter()


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode("latin-1")


def header_list(raw: object) -> Headers:
    """Faust/aiokafka hand headers over as a list of pairs, a mapping, or None."""
    if not raw:
        return []
    items: Iterable[tuple[str, bytes]] = raw.items() if isinstance(raw, Mapping) else raw  # type: ignore[assignment]
    return [(str(k), v if isinstance(v, bytes) else str(v or "").encode()) for k, v in items]


def extract(headers: Sequence[tuple[str, bytes]]) -> Context | None:
    """The trace context in ``headers``; None when they hold none or a malformed one."""
    if not headers:
        return None
    ctx = propagate.extract(headers, getter=_GETTER)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def inject(ctx: Context) -> Headers:
    headers: Headers = []
    propagate.inject(headers, context=ctx, setter=_SETTER)
    return headers
