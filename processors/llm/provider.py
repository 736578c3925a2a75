"""The one place LiteLLM is called: a single completion attempt, its errors mapped, its usage priced.

LiteLLM is imported lazily (the import takes seconds) and only after ``LITELLM_LOCAL_MODEL_COST_MAP``
is set, so it prices calls from the map bundled in the wheel instead of fetching one at import.
LiteLLM's own retries are disabled (``num_retries=0``, ``max_retries=0``): :mod:`.client` owns the
retry, backoff and fallback policy, and two layers of retries would multiply the waits.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from opentelemetry import trace

from supportflow.processors.llm.errors import LlmCircuitOpen, LlmError, LlmRequestRejected

# Statuses worth retrying: timeouts, conflicts/too-early, rate limits, and every 5xx.
_RETRYABLE_STATUS = {408, 409, 425, 429}
MAX_OUTPUT_TOKENS = 700


# These libraries log whole request bodies (the prompt) at DEBUG; a DEBUG run must not copy customer
# text into log files, so they are capped at WARNING whatever the root level is.
_CHATTY_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "openai", "httpx", "httpcore")


@cache
def litellm_module() -> ModuleType:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its "Give Feedback" banner goes to stdout on every error
    litellm.telemetry = False
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


@dataclass(frozen=True)
class Completion:
    content: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


@dataclass(frozen=True)
class Endpoint:
    model: str
    api_base: str | None
    api_key: str | None
    timeout_s: float


def complete(endpoint: Endpoint, messages: list[dict[str, str]], router: Any = None) -> Completion:
    """One HTTP round trip. Raises :class:`LlmError` (retryable) or :class:`LlmRequestRejected`.

    Inside a ticket's trace (a span is current: tracing is on) the call is a child span with the
    OpenTelemetry GenAI attributes: provider, model, token counts; never the prompt or the reply."""
    if not trace.get_current_span().get_span_context().is_valid:
        return _complete(endpoint, messages, router)
    tracer = trace.get_tracer("supportflow.llm")
    with tracer.start_as_current_span(
        f"chat {endpoint.model}", kind=trace.SpanKind.CLIENT, record_exception=False,
        set_status_on_exception=False, attributes=_request_attributes(endpoint),
    ) as span:  # fmt: skip
        try:
            completion = _complete(endpoint, messages, router)
        except Exception as exc:  # the class only: an exception message may quote the provider's reply
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("error.type", type(exc).__name__)
            raise
        span.set_attributes({
            "gen_ai.usage.input_tokens": completion.tokens_in,
            "gen_ai.usage.output_tokens": completion.tokens_out,
            "supportflow.cost_usd": completion.cost_usd,
        })  # fmt: skip
        return completion


def _request_attributes(endpoint: Endpoint) -> dict[str, str | float | int]:
    provider = _provider_name(endpoint.model)
    return {
        "gen_ai.operation.name": "chat", "gen_ai.system": provider, "gen_ai.provider.name": provider,
        "gen_ai.request.model": endpoint.model, "gen_ai.request.temperature": 0.0,
        "gen_ai.request.max_tokens": MAX_OUTPUT_TOKENS,
    }  # fmt: skip


@cache
def _provider_name(model: str) -> str:
    """LiteLLM's provider for ``model`` (``openai`` for ``openai/gpt-4o-mini``)."""
    try:
        return str(litellm_module().get_llm_provider(model)[1])
    except Exception:  # an unknown prefix: the prefix itself says the most
        return model.split("/", 1)[0] if "/" in model else "unknown"


def _complete(endpoint: Endpoint, messages: list[dict[str, str]], router: Any) -> Completion:
    litellm = litellm_module()
    kwargs: dict[str, Any] = {
        "model": endpoint.model,
        "messages": messages,
        "timeout": endpoint.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
        "temperature": 0.0,
        "max_tokens": MAX_OUTPUT_TOKENS,
        "drop_params": True,  # a provider without e.g. temperature support gets the call without it
    }
    # A Router's deployment holds these; passed per call, they would make it a caller's credentials,
    # whose failures the Router does not count against the deployment.
    if endpoint.api_base and router is None:
        kwargs["api_base"] = endpoint.api_base
    if endpoint.api_key and router is None:
        kwargs["api_key"] = endpoint.api_key
    if _supports_json_mode(endpoint.model):
        kwargs["response_format"] = {"type": "json_object"}
    try:
        # Through a litellm.Router (breaker.py) when given, so its deployment cooldowns see the outcome.
        response = (litellm.completion if router is None else router.completion)(**kwargs)
    except Exception as exc:
        raise _translate(exc, litellm) from exc
    content = response.choices[0].message.content or ""
    tokens_in, tokens_out = _usage(response, endpoint.model, messages, content)
    return Completion(content, tokens_in, tokens_out, cost_usd(endpoint.model, tokens_in, tokens_out))


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    """Price from LiteLLM's local map; models it does not know (local servers) cost 0."""
    litellm = litellm_module()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=tokens_in, completion_tokens=tokens_out
        )
    except Exception:  # litellm raises several types for unmapped models; none is worth failing a ticket
        return 0.0
    return float(prompt_cost) + float(completion_cost)


@cache
def _supports_json_mode(model: str) -> bool:
    litellm = litellm_module()
    try:
        _, provider, _, _ = litellm.get_llm_provider(model)
        params = litellm.get_supported_openai_params(model=model, custom_llm_provider=provider) or []
    except Exception:  # unknown provider prefix: ask without JSON mode, validation still applies
        return False
    return "response_format" in params


def _usage(response: Any, model: str, messages: list[dict[str, str]], content: str) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
    tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
    if tokens_in or tokens_out:
        return tokens_in, tokens_out
    # Some local servers omit usage: count with LiteLLM's bundled tokenizers instead of reporting 0.
    litellm = litellm_module()
    return litellm.token_counter(model=model, messages=messages), litellm.token_counter(
        model=model, text=content
    )


def _translate(exc: Exception, litellm: ModuleType) -> Exception:
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    name = type(exc).__name__
    if isinstance(exc, litellm.RouterRateLimitError):  # the model is cooling down: nothing was sent
        return LlmCircuitOpen(f"{name}: model cooling down after provider failures")
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError):
        return LlmError(f"{name}: no answer in time", status=status)
    if status is not None and (status in _RETRYABLE_STATUS or status >= 500):
        return LlmError(f"{name}: HTTP {status}", status=status, retry_after_s=retry_after_s(exc))
    if status is not None:
        return LlmRequestRejected(f"{name}: HTTP {status}", status=status)
    # No status: not an HTTP answer at all (e.g. an unparseable body); treat like a flaky provider.
    return LlmError(f"{name}: provider call failed")


def retry_after_s(exc: Exception) -> float | None:
    """Seconds the provider asked us to wait: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date)."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
