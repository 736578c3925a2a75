"""Egress configuration: ``Settings.egress`` (env ``SUPPORTFLOW_EGRESS__<FIELD>``).

The model lives in :mod:`supportflow.settings` with every other setting (env vars are read in one
place); it is re-exported here for the connectors. Secrets are :class:`SecretStr`: they never appear
in reprs, logs or dead letters.
"""

from supportflow.settings import EgressSettings, Priority

__all__ = ["EgressSettings", "Priority"]
