import argparse
from pathlib import Path

import pytest

from supportflow.cli.main import build_parser
from supportflow.cli.run import _worker_settings
from supportflow.cli.shadow import duration_s, promotion_event, time_ms
from supportflow.data import data_path
from supportflow.schemas.errors import PermanentError
from supportflow.settings import Settings, TopicSettings
from supportflow.streams.runtime import artifact_version
from supportflow.streams.shadow import check_isolated, live_topics, shadow_settings, written_topics

NOW_MS = 1_800_000_000_000


def worker_args(*argv):
    return build_parser().parse_args(["worker", "--broker", "127.0.0.1:9092", *argv])


def test_duration_s_units_and_junk():
    assert [duration_s(t) for t in ("90s", "30m", "24h", "7d", "1w")] == [90, 1800, 86400, 604800, 604800]
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        duration_s("7 days")


def test_time_ms_now_duration_ago_iso_utc_and_zoned():
    assert time_ms("now", NOW_MS) == NOW_MS
    assert time_ms("1h", NOW_MS) == NOW_MS - 3_600_000
    assert time_ms("2026-12-01T00:00") == 1_796_083_200_000
    assert time_ms("2026-12-01T01:00+01:00") == 1_796_083_200_000
    with pytest.raises(argparse.ArgumentTypeError, match="ISO 8601"):
        time_ms("yesterday")


@pytest.mark.parametrize("topology", ["fused", "per-stage"])
def test_shadow_settings_writes_no_topic_of_the_live_pipeline(topology):
    live = Settings(topology=topology)
    shadow = shadow_settings(live)
    t = shadow.topics
    assert shadow.app_id == "supportflow-shadow" and shadow.shadow
    assert t.full(t.outcomes) == "supportflow.outcomes.shadow"
    assert t.full(t.ingress) == "supportflow.ingress.raw"  # it reads what the live pipeline reads
    assert not written_topics(shadow) & live_topics(live)
    assert "supportflow.outcomes" in live_topics(live)
    check_isolated(live, shadow)


def test_check_isolated_shadow_topic_named_like_live_outcomes_refused():
    live = Settings(topics=TopicSettings(outcomes_shadow="outcomes"))
    with pytest.raises(PermanentError, match=r"supportflow\.outcomes\b"):
        check_isolated(live, shadow_settings(live))


def test_check_isolated_same_app_id_refused():
    live = Settings()
    same_group = shadow_settings(live).model_copy(update={"app_id": live.app_id})
    with pytest.raises(PermanentError, match="live one"):
        check_isolated(live, same_group)


def test_worker_settings_shadow_flag_derives_shadow_with_candidate(tmp_path):
    settings = _worker_settings(worker_args("--shadow", "--policy", str(tmp_path / "p.yaml")), Settings())
    assert settings.shadow and settings.app_id == "supportflow-shadow"
    assert settings.policy_path == tmp_path / "p.yaml" and settings.router_path is None


def test_worker_settings_without_shadow_is_the_live_worker():
    live = Settings()
    assert _worker_settings(worker_args(), live) is live


def test_worker_settings_shadow_setting_writing_live_outcomes_refused():
    misconfigured = Settings(shadow=True, topics=TopicSettings(outcomes_shadow="outcomes"))
    with pytest.raises(PermanentError, match="would write live topics"):
        _worker_settings(worker_args(), misconfigured)


def test_artifact_version_names_content_not_location(tmp_path):
    policy = data_path("router", "policy.yaml")
    copy = tmp_path / "policy.yaml"
    copy.write_bytes(policy.read_bytes())
    assert artifact_version(copy) == artifact_version(policy)
    assert (
        artifact_version(policy).startswith("policy@")
        and len(artifact_version(policy)) == len("policy@") + 12
    )
    copy.write_text(policy.read_text() + "\n# changed\n")
    assert artifact_version(copy) != artifact_version(policy)
    router = artifact_version(Path(data_path("router")))
    assert router.startswith("router@")


def test_promotion_event_records_both_versions_and_what_they_replace():
    event = promotion_event("r@new", "p@new", "r@old", "p@old", "better refunds")
    assert event.ticket_id.startswith("promotion-")
    assert (event.router_version, event.policy_version) == ("r@new", "p@new")
    assert (
        "promotion:router:r@old->r@new" in event.reasons and "promotion:policy:p@old->p@new" in event.reasons
    )
    assert event.model_output == "better refunds"


def test_parser_eval_shadow_and_shadow_replay_options():
    args = build_parser().parse_args(["eval", "shadow", "--since", "24h", "--json", "--plots", "out"])
    assert (args.since, args.json, args.plots) == (86400, True, Path("out"))
    replay = build_parser().parse_args(
        ["shadow", "replay", "--from", "2026-12-01T00:00", "--to", "2026-12-02T00:00"]
    )
    assert replay.to_ms - replay.from_ms == 86_400_000
