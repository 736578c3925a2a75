"""``supportflow egress``: the parser's connector names are the connectors that exist."""

from supportflow.cli import egress


def test_egress_connector_choices_match_the_connector_registry():
    from supportflow.connectors.egress import CONNECTORS

    assert egress.CONNECTORS == CONNECTORS
