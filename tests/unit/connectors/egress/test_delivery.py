"""The shared delivery core against a real loopback server: retries, Retry-After, timeouts, 4xx."""

import random
from datetime import UTC, datetime

import pytest

from supportflow.connectors.egress import (
    Deliverer,
    DeliveryRejected,
    HttpCall,
    RetriesExhausted,
    RetryPolicy,
    idempotency_key,
    parse_retry_after,
)
from tests.fakes.crm_server import Hang, Respond
from tests.unit.connectors.egress.builders import outcome

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, retry_after_cap_s=5.0)


def _call(server):
    from supportflow.connectors.egress import WebhookConnector
    from tests.unit.connectors.egress.builders import settings

    return WebhookConnector(settings(server)).calls(outcome())[0]


def _deliverer(policy=FAST, timeout_s=2.0):
    return Deliverer(policy, timeout_s=timeout_s, rng=random.Random(7))


def test_parse_retry_after_seconds_and_http_date_return_delay():
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after("Mon, 02 Mar 2026 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("Mon, 02 Mar 2026 11:59:00 GMT", NOW) == 0.0  # in the past: retry now


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "1.5e9x"])
def test_parse_retry_after_absent_or_garbled_returns_none(value):
    assert parse_retry_after(value, NOW) is None


def test_backoff_full_jitter_stays_under_exponential_ceiling():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread over the range: jitter


def test_idempotency_key_is_stable_and_distinct_per_connector_decision_and_step():
    key = idempotency_key("zendesk", "tkt_1", "auto_resolved")
    assert key == idempotency_key("zendesk", "tkt_1", "auto_resolved") and len(key) == 64
    others = {
        idempotency_key("freshdesk", "tkt_1", "auto_resolved"),
        idempotency_key("zendesk", "tkt_2", "auto_resolved"),
        idempotency_key("zendesk", "tkt_1", "escalated"),
        idempotency_key("zendesk", "tkt_1", "auto_resolved", "update"),
    }
    assert key not in others and len(others) == 4


def test_deliverer_500s_then_success_retries_and_sends_same_key(server):
    server.script(Respond(500), Respond(502), path=server.webhook_path)
    result = _deliverer().send(_call(server), "key-1")
    seen = server.recorded("webhook")
    assert result.status == 202 and result.attempts == 3
    assert [r.status for r in seen] == [500, 502, 202]
    assert {r.key for r in seen} == {"key-1"}


@pytest.mark.parametrize("status", [429, 503])
def test_deliverer_retry_after_seconds_is_honoured(server, status):
    server.script(Respond(status, retry_after="1"), path=server.webhook_path)
    _deliverer().send(_call(server), "key-ra")
    first, second = server.recorded("webhook")
    gap = second.at - first.at
    assert 1.0 <= gap < 2.0, gap  # waited the server's 1 s, not the 10-50 ms backoff


def test_deliverer_retry_after_above_cap_waits_only_the_cap(server):
    server.script(Respond(429, retry_after="3600"), path=server.webhook_path)
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, retry_after_cap_s=0.3)
    _deliverer(policy).send(_call(server), "key-cap")
    first, second = server.recorded("webhook")
    assert 0.3 <= second.at - first.at < 1.5


def test_deliverer_timeout_is_transient_then_succeeds(server):
    server.script(Hang(1.5), path=server.webhook_path)
    result = _deliverer(timeout_s=0.3).send(_call(server), "key-slow")
    assert result.attempts == 2
    assert len(server.recorded("webhook")) == 2


def test_deliverer_4xx_is_permanent_and_not_retried(server):
    server.script(Respond(400), path=server.webhook_path)
    with pytest.raises(DeliveryRejected) as info:
        _deliverer().send(_call(server), "key-bad")
    assert info.value.status == 400
    assert len(server.recorded("webhook")) == 1


@pytest.mark.parametrize("status", [408, 409])
def test_deliverer_retryable_4xx_is_retried(server, status):
    server.script(Respond(status), path=server.webhook_path)
    assert _deliverer().send(_call(server), "key-4xx").attempts == 2


def test_deliverer_gives_up_after_max_attempts(server):
    server.script(*[Respond(503)] * 10, path=server.webhook_path)
    with pytest.raises(RetriesExhausted) as info:
        _deliverer().send(_call(server), "key-down")
    assert info.value.attempts == FAST.max_attempts
    assert len(server.recorded("webhook")) == FAST.max_attempts
    assert "HTTP 503" in str(info.value)


def test_deliverer_refused_connection_is_transient():
    call = HttpCall(step="", method="POST", url="http://127.0.0.1:9/unreachable", content=b"{}")
    with pytest.raises(RetriesExhausted):
        _deliverer(RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01)).send(call, "key-x")


def test_deliverer_stops_retrying_when_the_worker_stops(server):
    import threading

    from supportflow.connectors.egress import DeliveryInterrupted

    stop = threading.Event()
    stop.set()
    server.script(*[Respond(503, retry_after="30")] * 3, path=server.webhook_path)
    deliverer = Deliverer(FAST, timeout_s=2.0, sleep=stop.wait, should_stop=stop.is_set)
    with pytest.raises(DeliveryInterrupted):
        deliverer.send(_call(server), "key-stop")
    assert len(server.recorded("webhook")) == 1  # no 30 s wait, no second attempt
