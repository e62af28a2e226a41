"""The worker freezes what start-up built, so full collections no longer walk it."""

from __future__ import annotations

import gc
import weakref

from streams.agents import freeze_startup_objects


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_start_up_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    gc.unfreeze()
    try:
        built_at_start = [_Node() for _ in range(1_000)]
        freeze_startup_objects()
        assert gc.get_freeze_count() >= len(built_at_start)
        a, b = _Node(), _Node()  # a reference cycle made after the freeze
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
