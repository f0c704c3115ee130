"""Step records as the status page reads them, including what moto shows mid-update."""

from __future__ import annotations

from typing import Any

from control_plane import store, tracking
from tmux_builder import keys
from tmux_builder.pipeline import Step


def test_a_step_item_holding_only_its_key_is_not_a_step(stack: Any) -> None:
    # moto applies an UpdateItem in place, so a reader racing the first write of a step sees
    # an item with nothing but its key; the status page must not fail on it.
    execution_id = "tracking-half-written"
    store.put(keys.step(execution_id, Step.DEPLOY))
    assert tracking.step_started(execution_id, Step.CREATE_USER, attempt=0)

    steps = tracking.steps_of(execution_id)

    assert list(steps) == [Step.CREATE_USER.value]
    assert steps[Step.CREATE_USER.value]["status"] == "running"
