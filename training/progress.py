"""Compact sweep progress on the console: one line per finished trial, with the best score so far."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray import tune
from rich.console import Console


class ProgressPrinter(tune.Callback):
    """A Tune callback printing `[done/total] trial … metric=… (best …)` as trials end, saying so for a trial ASHA
    stopped early (`early_stops`, the scheduler's live record: trial id -> iteration)."""

    def __init__(
        self, console: Console, metric: str, mode: str, total: int, early_stops: Mapping[str, int] | None = None
    ) -> None:
        self._console, self._metric, self._mode, self._total = console, metric, mode, total
        self._early_stops = {} if early_stops is None else early_stops
        self._done = 0
        self._best = math.nan
        self._last: dict[str, float] = {}

    def __getstate__(self) -> dict:
        # Tune pickles its run config (for resuming); the console (a terminal handle) stays behind.
        state = dict(self.__dict__)
        state["_console"] = None
        state["_early_stops"] = {}  # the scheduler's live record is not this callback's to copy
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._console = Console(stderr=True)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if self._metric in result:
            self._last[trial.trial_id] = float(result[self._metric])

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        value = self._last.get(trial.trial_id, math.nan)
        if math.isnan(self._best) or (value < self._best if self._mode == "min" else value > self._best):
            self._best = value
        self._done += 1
        ended = "done"
        if (stopped_at := self._early_stops.get(trial.trial_id)) is not None:
            ended = f"stopped early by ASHA at iteration {stopped_at}"
        self._console.print(
            f"[{self._done}/{self._total}] trial {trial.trial_id} {ended}  {self._metric}={value:.4f}  "
            f"(best {self._best:.4f})"
        )

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._done += 1
        self._console.print(f"[{self._done}/{self._total}] trial {trial.trial_id} [red]failed[/red]")
