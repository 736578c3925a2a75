"""What a model call can fail with, mapped onto the project's error tree (schemas/errors.py).

Only :class:`LlmUnavailable` leaves :meth:`TierClient.answer`; the others are what each attempt failed
with, kept as its ``__cause__`` and summarised in ``reasons`` so the caller can record the degradation.
"""

from __future__ import annotations

from supportflow.schemas.errors import PermanentError, SupportflowError, TransientError


class LlmError(TransientError):
    """A retryable provider failure: timeout, connection error, 429, 5xx."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class LlmCircuitOpen(TransientError):
    """No request was sent: the model is cooling down after repeated provider failures (see breaker.py).

    Not an :class:`LlmError`, so it is never retried: the other tier answers, or the ticket degrades.
    """


class LlmRequestRejected(PermanentError):
    """The provider refused this request (400/401/403/404/422...): the same model will refuse it again."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LlmOutputInvalid(PermanentError):
    """The model answered, but not with valid JSON citing only the sources it was given."""


class LlmUnavailable(SupportflowError):
    """Every tier failed, was exhausted, or is cooling down: the caller degrades (draft/escalate).

    ``reasons`` has one short, PII-free entry per tier tried, e.g. ``"commodity:openai/x:LlmError(429)"``.
    """

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons
