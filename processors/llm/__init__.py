"""Model tiers through LiteLLM: structured, validated, cited answers with retries, fallback and a breaker.

Importing this package does not import LiteLLM (a multi-second import); the first call does.
"""

from supportflow.processors.llm.breaker import BreakerPolicy, ModelCircuits
from supportflow.processors.llm.client import RetryPolicy, TierClient
from supportflow.processors.llm.errors import (
    LlmCircuitOpen,
    LlmError,
    LlmOutputInvalid,
    LlmRequestRejected,
    LlmUnavailable,
)
from supportflow.processors.llm.prompt import ModelAnswer

__all__ = [
    "BreakerPolicy",
    "LlmCircuitOpen",
    "LlmError",
    "LlmOutputInvalid",
    "LlmRequestRejected",
    "LlmUnavailable",
    "ModelAnswer",
    "ModelCircuits",
    "RetryPolicy",
    "TierClient",
]
