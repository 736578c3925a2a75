"""Kill switch on the real embedded broker: last write wins, new workers read history from offset 0."""

import time

import pytest

from supportflow.streams.flags import FlagWatcher, delete_flag, parse_assignment, publish_flag
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
        assert watcher.get("auto_resolve") is False
        # A name no worker knows is not a flag: listed as ignored, never in effect.
        assert watcher.get("max_tier") is None and "max_tier" not in watcher.snapshot()
        assert watcher.invalid() == {"max_tier": ("commodity", "unknown flag")}
    finally:
        watcher.stop()


@pytest.mark.parametrize("raw", ["False", "off", "true", 1])
def test_flag_watcher_raw_non_boolean_fails_closed_then_tombstone_restores_default(broker, unique, raw):
    """What an unchecked writer (the CLI before typed flags stored "False") leaves on the topic."""
    topic = unique("control")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 1, "control", compacted=True)])
    publish_flag(broker.bootstrap, topic, "auto_resolve", raw)
    watcher = FlagWatcher(broker.bootstrap, topic).start(wait_s=10)
    try:
        assert watcher.get("auto_resolve") is False
        assert watcher.invalid()["auto_resolve"][0] == raw
        delete_flag(broker.bootstrap, topic, "auto_resolve")
        assert _wait(lambda: watcher.get("auto_resolve") is True)
        assert watcher.invalid() == {}
    finally:
        watcher.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("auto_resolve=false", ("auto_resolve", False)), ("auto_resolve=False", ("auto_resolve", False)),
     ("auto_resolve=off", ("auto_resolve", False)), ("auto_resolve=yes", ("auto_resolve", True))],
)  # fmt: skip
def test_parse_assignment_boolean_words_typed(text, expected):
    name, value = parse_assignment(text)
    assert (name, value) == expected and type(value) is bool
