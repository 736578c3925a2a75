"""Signature checks, bearer tokens, the replay cache and the token bucket, without HTTP."""

from __future__ import annotations

import pytest

from supportflow.connectors.webhook.errors import RequestRejected
from supportflow.connectors.webhook.ratelimit import TokenBucketLimiter
from supportflow.connectors.webhook.signatures import (
    ReplayCache,
    chat_signature,
    verify_bearer,
    verify_chat,
    verify_whatsapp,
    whatsapp_signature,
)

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
SECRET = b"app-secret"


def test_whatsapp_signature_known_vector_matches_hmac_sha256():
    # Computed independently: printf '%s' "$BODY" | openssl dgst -sha256 -hmac app-secret
    import hashlib
    import hmac

    assert whatsapp_signature(SECRET, BODY) == "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()


def test_verify_whatsapp_valid_signature_passes():
    verify_whatsapp(SECRET, BODY, whatsapp_signature(SECRET, BODY))


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        (whatsapp_signature(b"other-secret", BODY), "invalid_signature"),
        (whatsapp_signature(SECRET, BODY + b" "), "invalid_signature"),
        ("sha1=" + whatsapp_signature(SECRET, BODY)[7:], "invalid_signature"),
        ("sha256=é", "invalid_signature"),  # non-ASCII must be rejected, not raise TypeError
    ],
)
def test_verify_whatsapp_bad_signature_rejected(header, code):
    with pytest.raises(RequestRejected) as info:
        verify_whatsapp(SECRET, BODY, header)
    assert (info.value.status, info.value.code) == (401, code)


def test_verify_chat_fresh_signature_returns_timestamp():
    sig = chat_signature(SECRET, "1795000000", BODY)
    assert verify_chat(SECRET, BODY, "1795000000", sig, now_s=1_795_000_100, window_s=300) == 1_795_000_000


@pytest.mark.parametrize(
    ("timestamp", "signature", "code"),
    [
        ("1795000000", None, "missing_signature"),
        (None, "sha256=00", "missing_signature"),
        ("17950e5", "sha256=00", "invalid_timestamp"),
        ("1795000000", chat_signature(SECRET, "1795000001", BODY), "invalid_signature"),
        ("1794999000", chat_signature(SECRET, "1794999000", BODY), "stale_timestamp"),
        ("1795001000", chat_signature(SECRET, "1795001000", BODY), "stale_timestamp"),  # from the future
    ],
)
def test_verify_chat_bad_request_rejected(timestamp, signature, code):
    with pytest.raises(RequestRejected) as info:
        verify_chat(SECRET, BODY, timestamp, signature, now_s=1_795_000_100, window_s=300)
    assert info.value.code == code


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer wrong", "bearer tok3n "])
def test_verify_bearer_wrong_or_missing_rejected(header):
    with pytest.raises(RequestRejected) as info:
        verify_bearer(b"tok3n!", header)
    assert info.value.status == 401
    assert "WWW-Authenticate" in info.value.headers


def test_verify_bearer_scheme_is_case_insensitive():
    verify_bearer(b"tok3n", "bearer tok3n")


def test_replay_cache_second_claim_rejected_until_window_passes():
    now = [1000.0]
    cache = ReplayCache(window_s=300, max_entries=10, clock=lambda: now[0])
    cache.claim("sig", 1000)
    with pytest.raises(RequestRejected) as info:
        cache.claim("sig", 1000)
    assert info.value.code == "replayed_request"
    now[0] = 1301.0  # the timestamp is now stale, so the entry can go
    cache.claim("other", 1300)
    assert len(cache) == 1


def test_replay_cache_released_signature_can_be_claimed_again():
    cache = ReplayCache(window_s=300, max_entries=10, clock=lambda: 1000.0)
    cache.claim("sig", 1000)
    cache.release("sig")
    cache.claim("sig", 1000)


def test_replay_cache_full_of_live_entries_fails_closed():
    cache = ReplayCache(window_s=300, max_entries=2, clock=lambda: 1000.0)
    cache.claim("a", 1000)
    cache.claim("b", 1000)
    with pytest.raises(RequestRejected) as info:
        cache.claim("c", 1000)
    assert info.value.status == 503
    with pytest.raises(RequestRejected):
        cache.claim("a", 1000)  # still remembered: nothing was forgotten to make room


def test_token_bucket_burst_then_refills_at_rate():
    now = [0.0]
    limiter = TokenBucketLimiter(rate_per_s=2, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("ip") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("ip") == 1
    assert limiter.acquire("other-ip") == 0  # buckets are per client
    now[0] = 0.5  # one token back at 2/s
    assert limiter.acquire("ip") == 0
    assert limiter.acquire("ip") >= 1


def test_token_bucket_memory_bounded_by_max_clients():
    limiter = TokenBucketLimiter(rate_per_s=1, burst=1, max_clients=100, clock=lambda: 0.0)
    for i in range(1000):
        limiter.acquire(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100


def test_token_bucket_rate_zero_disables():
    limiter = TokenBucketLimiter(rate_per_s=0, burst=1)
    assert all(limiter.acquire("ip") == 0 for _ in range(100))
