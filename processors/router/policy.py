"""Routing policy as code: a validated YAML file mapping intents to bands and tiers, plus rule settings.

The shipped default is ``supportflow/data/router/policy.yaml``; its comments say why each choice was
made. Unknown keys are errors (a typo such as ``escallate`` must not silently become the default).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from supportflow.data import data_path
from supportflow.schemas.errors import PermanentError
from supportflow.schemas.models import Band, Tier

Action = Literal["escalate", "suggest"]


class PolicyError(PermanentError):
    """The policy file is missing, not YAML, or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntentPolicy(_Strict):
    band: Band = Band.AUTO
    tier: Tier = Tier.COMMODITY


def phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any phrase on word boundaries; whitespace inside a phrase
    matches any run of whitespace. Entries wrapped in slashes (``/regex/``) are used as regexes."""
    parts = []
    for p in phrases:
        if len(p) > 2 and p.startswith("/") and p.endswith("/"):
            parts.append(f"(?:{p[1:-1]})")
        else:
            parts.append(r"\b" + r"\s+".join(re.escape(w) for w in p.split()) + r"\b")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class _PhraseRule(_Strict):
    action: Action = "escalate"
    enabled: bool = True
    phrases: list[str] = []
    _pattern: re.Pattern[str] | None = PrivateAttr(None)

    @field_validator("phrases")
    @classmethod
    def _regexes_compile(cls, phrases: list[str]) -> list[str]:
        for p in phrases:
            try:
                phrase_pattern([p])
            except re.error as exc:
                raise ValueError(f"bad regex {p!r}: {exc}") from exc
        return phrases

    def model_post_init(self, _context: object) -> None:
        self._pattern = phrase_pattern(self.phrases)

    def matches(self, text: str) -> str | None:
        """The first matching phrase (as written in the text), or None."""
        if not self.enabled or self._pattern is None:
            return None
        m = self._pattern.search(text)
        return m.group(0) if m else None


class LegalRule(_PhraseRule):
    """Legal language or threats: a human must answer, whatever the intent."""


class AccountClosureRule(_PhraseRule):
    """Closing an account or deleting personal data: irreversible, and a legal obligation (GDPR)."""


class HumanRequestRule(_PhraseRule):
    """The customer asked for a person; answering with a bot anyway is how complaints start."""


class RefundRule(_PhraseRule):
    """Refunds or disputes above an amount need a person's approval.

    Applies when the intent is one of ``intents`` or the text has one of ``phrases``, except for
    ``ignore_intents`` (asking what the refund policy is, with an amount in the question, is not a
    refund request).
    """

    intents: list[str] = ["get_refund", "track_refund", "payment_issue"]
    ignore_intents: list[str] = ["check_refund_policy", "check_cancellation_fee"]
    amount: float | None = Field(None, ge=0, description="Overrides thresholds.refund_escalation_amount.")


class AngerRule(_PhraseRule):
    """Anger from several weak signals, so that no single one (a negative word, one capitalised word,
    "manager" in a polite sentence) is enough. Each signal adds points; the rule fires at ``fire_at``."""

    negative_compound: float = Field(-0.5, ge=-1, le=0, description="VADER compound at or below: +1.")
    very_negative_compound: float = Field(-0.8, ge=-1, le=0, description="At or below: +1 more.")
    caps_ratio: float = Field(0.6, gt=0, le=1, description="Share of words in CAPS (shouting): +2.")
    caps_min_words: int = Field(3, ge=1, description="Fewer shouted words than this is not shouting.")
    exclamations: int = Field(2, ge=1, description="A run of this many '!': +1.")
    fire_at: int = Field(2, ge=1)

    def escalation_words(self, text: str) -> list[str]:
        return [m.group(0).lower() for m in self._pattern.finditer(text)] if self._pattern else []


class SimpleRule(_Strict):
    action: Action = "escalate"
    enabled: bool = True


class Rules(_Strict):
    legal: LegalRule = LegalRule()
    account_closure: AccountClosureRule = AccountClosureRule()
    refund: RefundRule = RefundRule()
    vip: SimpleRule = SimpleRule()
    anger: AngerRule = AngerRule()
    human_request: HumanRequestRule = HumanRequestRule()
    out_of_scope: SimpleRule = SimpleRule(action="suggest")
    language: SimpleRule = SimpleRule(action="suggest")


class Policy(_Strict):
    version: int = 1
    defaults: IntentPolicy = IntentPolicy()
    intents: dict[str, IntentPolicy] = {}
    rules: Rules = Rules()

    def for_intent(self, intent: str) -> IntentPolicy:
        return self.intents.get(intent, self.defaults)

    def missing_intents(self, intents: list[str]) -> list[str]:
        """Intents a router predicts that this policy does not name (they fall back to defaults)."""
        return sorted(set(intents) - set(self.intents))


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file; ``None`` is the shipped default."""
    path = path or data_path("router", "policy.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {path} must be a YAML mapping, got {type(raw).__name__}")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"policy {path} is invalid: {problems}") from exc
