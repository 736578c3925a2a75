"""supportflow: Kafka-native customer-support automation.

Stages (pure functions in ``supportflow.processors``, thin Faust agents in ``supportflow.streams``):
normalize -> route -> retrieve -> resolve -> gate -> outcome topics.
"""

__version__ = "0.1.0"
