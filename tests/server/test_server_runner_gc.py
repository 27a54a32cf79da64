"""The served process freezes what grows long-lived after start-up (hanami.server.runner)."""

from __future__ import annotations

import gc

from hanami.server.runner import REFREEZE_OBJECTS, freeze_grown_state


def test_a_grown_old_generation_is_frozen_after_a_full_collection():
    gc.callbacks.append(freeze_grown_state)
    try:
        gc.collect()
        grown = [[n] for n in range(2 * REFREEZE_OBJECTS)]  # lists are tracked by the gc
        frozen = gc.get_freeze_count()
        gc.collect(1)  # not a full collection: nothing frozen
        assert gc.get_freeze_count() == frozen
        gc.collect()
        assert gc.get_freeze_count() >= frozen + len(grown)
        assert len(gc.get_objects(generation=2)) < REFREEZE_OBJECTS
        frozen = gc.get_freeze_count()
        gc.collect()  # little left outside: nothing more frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.callbacks.remove(freeze_grown_state)
        gc.unfreeze()
