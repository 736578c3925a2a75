"""Intent routing: a calibrated classifier on frozen MiniLM vectors plus a YAML policy of hard rules.

``IntentRouter.predict`` says what a ticket is about and how sure it is; ``decide`` turns that, the
ticket text and the customer's CRM record into a band (auto / suggest / escalate), a model tier and
the list of rules and thresholds that fired.
"""

from supportflow.processors.router.model import OOS, Calibration, IntentRouter, Prediction
from supportflow.processors.router.training import TrainOptions, train_router

__all__ = ["OOS", "Calibration", "IntentRouter", "Prediction", "TrainOptions", "train_router"]
