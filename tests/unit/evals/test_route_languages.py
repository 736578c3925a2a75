"""eval languages: reading the labelled CSV and counting per language (the routing itself is covered
by tests/unit/processors/test_route_multilingual.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportflow.evals.route_languages import LabelledTicket, LanguageScore, load_cases
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band


def test_load_cases_missing_language_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("text,label\nhola,track_order\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"missing column.*language"):
        load_cases(path)


def test_load_cases_row_without_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("text,label,language\n,track_order,es\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="needs a text and a label"):
        load_cases(path)


def test_load_cases_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_cases(tmp_path / "absent.csv")


def test_language_score_counts_in_scope_oos_and_auto_band() -> None:
    score = LanguageScore()
    score.add(LabelledTicket("a", "track_order", "es"), "track_order", Band.AUTO, "e5")
    score.add(LabelledTicket("b", "cancel_order", "es"), "oos", Band.SUGGEST, "e5")
    score.add(LabelledTicket("c", "oos", "es"), "oos", Band.SUGGEST, "minilm")
    score.add(LabelledTicket("d", "get_refund", "es"), "track_refund", Band.AUTO, "e5")
    out = score.as_dict()
    assert (out["rows"], out["right"], out["accuracy"]) == (4, 2, 0.5)
    assert (out["in_scope_accuracy"], out["in_scope_as_oos_rate"], out["oos_recall"]) == (0.3333, 0.3333, 1.0)
    assert (out["auto"], out["auto_precision"]) == (2, 0.5)
    assert out["routers"] == {"e5": 3, "minilm": 1}


def test_bench_events_language_filter_keeps_only_that_language() -> None:
    from supportflow.evals.bench import bench_events
    from supportflow.processors.router.signals import detect_language

    events = bench_events(30, ("es", "de"))
    texts = [json.loads(e.payload)["text"] for e in events]
    assert len(texts) == 30 and {detect_language(t) for t in texts} <= {"es", "de"}
    with pytest.raises(InvalidInputError, match="no bundled sample ticket is in ja"):
        bench_events(3, ("ja",))
