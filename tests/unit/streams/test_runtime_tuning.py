"""Worker GC tuning: start-up objects frozen, young generation collected less often; undone after a block."""

from __future__ import annotations

import gc

from supportflow.streams.runtime import GC_YOUNG_THRESHOLD, tuned_gc


def test_tuned_gc_inside_block_freezes_and_raises_threshold_then_restores() -> None:
    before_threshold, before_frozen = gc.get_threshold(), gc.get_freeze_count()
    loaded_at_start_up = [object() for _ in range(1000)]
    with tuned_gc():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() >= before_frozen + len(loaded_at_start_up)
    assert gc.get_threshold() == before_threshold
    assert gc.get_freeze_count() == 0
