"""``eval route`` and ``router train`` end to end on a tiny CSV with the real MiniLM embedder."""

import csv
import json

import pytest

from supportflow.cli.router import main
from supportflow.processors.router import IntentRouter
from tests.fakes.intent_phrases import TEST, TRAIN


def _write(path, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("route")
    return _write(d / "train.csv", TRAIN), _write(d / "test.csv", TEST), d


def test_eval_route_json_has_required_metrics_and_writes_plots(data, capsys):
    train, test, d = data
    assert (
        main(
            [
                "eval",
                "route",
                "--train",
                str(train),
                "--test",
                str(test),
                "--json",
                "--plots",
                str(d / "plots"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    m = json.loads(out[0])
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "ece", "auto_band_precision",
                "auto_band_coverage", "timing"):  # fmt: skip
        assert key in m
    assert m["n_test"] == 8 and m["accuracy"] >= 0.75 and m["oos_recall"] is not None
    assert m["timing"]["route_tickets_per_s"] > 0
    for png in ("reliability.png", "confusion.png"):
        assert (d / "plots" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_route_text_report_lists_bands(data, capsys):
    train, test, _ = data
    assert main(["eval", "route", "--train", str(train), "--test", str(test), "--val", str(test)]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "oos recall" in out and "auto " in out and "tickets/s" in out


def test_router_train_writes_loadable_artifact(data, tmp_path):
    train, _, _ = data
    assert main(["router", "train", "--data", str(train), "--out", str(tmp_path / "art")]) == 0
    router = IntentRouter.load(tmp_path / "art")
    assert sorted(router.intents) == ["get_refund", "recover_password", "track_order"]


def test_eval_route_missing_columns_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("instruction,intent\nhello,greet\n")
    assert main(["eval", "route", "--train", str(bad), "--test", str(bad)]) == 2
    assert "need columns text,label" in capsys.readouterr().err


def test_eval_route_oos_recall_target_reaches_training_and_report(data, capsys):
    train, test, _ = data
    args = ["eval", "route", "--train", str(train), "--test", str(test), "--json"]
    assert main([*args, "--oos-recall", "1.0"]) == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert m["thresholds"]["oos_recall_target"] == 1.0


def test_eval_route_oos_recall_out_of_range_is_a_usage_error(data, capsys):
    train, test, _ = data
    with pytest.raises(SystemExit) as exc:
        main(["eval", "route", "--train", str(train), "--test", str(test), "--oos-recall", "85"])
    assert exc.value.code == 2
    assert "must be in (0, 1]" in capsys.readouterr().err
