"""Building the Ray Tune `Tuner` of a sweep spec, and a stopper that ends the sweep on an interrupt."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from ray import tune
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import BasicVariantGenerator

from training.datasets import Splits
from training.search_space import to_tune_space
from training.spec import SweepSpec
from training.trial import run_trial


class Interrupt(tune.Stopper):
    """First SIGINT/SIGTERM: stop every trial and let the sweep wind down; a second one raises KeyboardInterrupt.

    Tune's own SIGINT handler is disabled (TUNE_DISABLE_SIGINT_HANDLER=1 by the caller) because it ends the run
    without telling the caller it was interrupted, and an interrupted sweep must not register anything.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __getstate__(self) -> dict:
        # Tune pickles its run config (for resuming); a copy starts uninterrupted and without handlers.
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled on the main thread; embedders handle their own
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self.event.is_set()

    def stop_all(self) -> bool:
        return self.event.is_set()


def build_tuner(
    spec: SweepSpec,
    splits: Splits,
    storage_path: Path,
    run_name: str,
    stopper: tune.Stopper,
    callbacks: list[tune.Callback],
    scheduler: TrialScheduler,
) -> tune.Tuner:
    """A Tuner running `spec.num_samples` trials of `run_trial` with fractional CPUs and bounded concurrency, under
    `scheduler` (`training.scheduler.build_scheduler`: the caller keeps it to read its early stops)."""
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, splits=splits, spec=spec), {"cpu": spec.cpus_per_trial}
    )
    return tune.Tuner(
        trainable,
        param_space=to_tune_space(spec.search_space),
        tune_config=tune.TuneConfig(
            metric=spec.metric,
            mode=spec.direction,
            num_samples=spec.num_samples,
            scheduler=scheduler,
            # Tune ignores TuneConfig.max_concurrent_trials for a generator instance; the generator bounds it.
            search_alg=BasicVariantGenerator(random_state=spec.seed, max_concurrent=spec.max_concurrent_trials),
            time_budget_s=spec.time_budget_s,
            # Reusing trial actors saves a process start and the heavy imports (mlflow, sklearn, torch) per trial.
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=run_name,
            storage_path=str(storage_path),
            stop=stopper,
            callbacks=callbacks,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
