"""When a sweep's first trial starts: what splits its wall time into the trial actors' start and the trials."""

from __future__ import annotations

import time
from typing import Any

from ray import tune


class FirstTrialClock(tune.Callback):
    """A Tune callback keeping the `time.monotonic()` at which the first trial started running."""

    def __init__(self) -> None:
        self.first_start: float | None = None

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self.first_start is None:
            self.first_start = time.monotonic()
