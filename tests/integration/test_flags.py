"""Kill switch on the real embedded broker: last write wins, new workers read history from offset 0."""

import time

import pytest

from supportflow.streams.flags import FlagWatcher, parse_assignment, publish_flag
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_flag_watcher_flip_seen_by_running_worker(broker, unique):
    topic = unique("control")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 1, "control", compacted=True)])
    watcher = FlagWatcher(broker.bootstrap, topic).start()
    try:
        assert watcher.get("auto_resolve") is True
        publish_flag(broker.bootstrap, topic, "auto_resolve", False)
        assert _wait(lambda: watcher.get("auto_resolve") is False)
        assert watcher.last_effect_delay_s < 10
    finally:
        watcher.stop()


def test_flag_watcher_new_worker_reads_last_write(broker, unique):
    topic = unique("control")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 1, "control", compacted=True)])
    for value in (False, True, False):
        publish_flag(broker.bootstrap, topic, "auto_resolve", value)
    publish_flag(broker.bootstrap, topic, "max_tier", "commodity")
    watcher = FlagWatcher(broker.bootstrap, topic).start(wait_s=10)
    try:
        assert watcher.get("auto_resolve") is False and watcher.get("max_tier") == "commodity"
    finally:
        watcher.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto_resolve=false", ("auto_resolve", False)),
        ("tier=frontier", ("tier", "frontier")),
        ("n=3", ("n", 3)),
    ],
)
def test_parse_assignment_json_values(text, expected):
    assert parse_assignment(text) == expected
