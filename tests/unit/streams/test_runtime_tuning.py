"""Worker interpreter tuning: GC thresholds and freeze, GIL switch interval; undone after a block."""

from __future__ import annotations

import gc
import os
import sys

from supportflow.streams.runtime import GC_YOUNG_THRESHOLD, GIL_SWITCH_INTERVAL_S, tuned_interpreter


def test_tuned_interpreter_inside_block_freezes_and_raises_threshold_then_restores() -> None:
    before_threshold, before_frozen = gc.get_threshold(), gc.get_freeze_count()
    loaded_at_start_up = [object() for _ in range(1000)]
    with tuned_interpreter():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() >= before_frozen + len(loaded_at_start_up)
    assert gc.get_threshold() == before_threshold
    assert gc.get_freeze_count() == 0


def test_tuned_interpreter_on_several_cores_shortens_switch_interval_then_restores(monkeypatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    before = sys.getswitchinterval()
    assert before != GIL_SWITCH_INTERVAL_S  # CPython's default (5 ms) unless something tuned it
    with tuned_interpreter():
        assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before


def test_tuned_interpreter_on_one_core_keeps_switch_interval(monkeypatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    before = sys.getswitchinterval()
    with tuned_interpreter():
        assert sys.getswitchinterval() == before
