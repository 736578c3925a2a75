"""Model tiers through LiteLLM: structured, validated, cited answers with retries, fallback and a breaker.

Importing this package does not import LiteLLM (a multi-second import); the first call does.
"""

from supportflow.processors.llm.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from supportflow.processors.llm.client import RetryPolicy, TierClient
from supportflow.processors.llm.errors import LlmError, LlmOutputInvalid, LlmRequestRejected, LlmUnavailable
from supportflow.processors.llm.prompt import ModelAnswer

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "LlmError",
    "LlmOutputInvalid",
    "LlmRequestRejected",
    "LlmUnavailable",
    "ModelAnswer",
    "RetryPolicy",
    "TierClient",
]
