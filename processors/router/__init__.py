"""Intent routing: a calibrated classifier on frozen MiniLM vectors plus a YAML policy of hard rules.

``IntentRouter.predict`` says what a ticket is about and how sure it is; ``decide`` turns that, the
ticket text and the customer's CRM record into a band (auto / suggest / escalate), a model tier and
the list of rules and thresholds that fired.
"""

from supportflow.processors.router.decide import decide
from supportflow.processors.router.held_out import calibrate_on_splits
from supportflow.processors.router.model import OOS, Calibration, IntentRouter, Prediction
from supportflow.processors.router.policy import IntentPolicy, Policy, PolicyError, load_policy
from supportflow.processors.router.signals import detect_language, find_amounts, warm_up
from supportflow.processors.router.train_options import TrainOptions
from supportflow.processors.router.training import train_router

__all__ = [
    "OOS",
    "Calibration",
    "IntentPolicy",
    "IntentRouter",
    "Policy",
    "PolicyError",
    "Prediction",
    "TrainOptions",
    "calibrate_on_splits",
    "decide",
    "detect_language",
    "find_amounts",
    "load_policy",
    "train_router",
    "warm_up",
]

# Optional LLM second opinion for the uncertain middle (off by default): see llm_router.py.
from supportflow.processors.router.llm_router import (
    LlmRouterClient,
    RouteCase,
    RouterVerdict,
    refine_routed_records,
    refine_uncertain,
)

__all__ += ["LlmRouterClient", "RouteCase", "RouterVerdict", "refine_routed_records", "refine_uncertain"]
