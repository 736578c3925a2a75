"""Ingress from files: ``events_from_path`` turns files and folders into the same InboundEvents a
webhook would produce; :mod:`.samples` tallies what the parsers make of the bundled samples.

Parsing the events is :mod:`supportflow.processors.channels`. Formats are documented in docs/ingress.md.
"""

from supportflow.connectors.ingress.files import events_from_path

__all__ = ["events_from_path"]
