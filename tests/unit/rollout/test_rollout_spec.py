"""Rollout specs: the shipped files load, schedules follow Flagger's step rules, bad files name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.core.spec import ABTestSpec, BlueGreenSpec, CanarySpec, ShadowSpec, parse_spec
from rollout.errors import SpecError
from rollout.spec_file import load_spec

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "rollouts"


@pytest.mark.parametrize(
    ("name", "model"),
    [("canary", CanarySpec), ("bluegreen", BlueGreenSpec), ("shadow", ShadowSpec), ("abtest", ABTestSpec)],
)
def test_shipped_specs_load(name: str, model: type) -> None:
    assert isinstance(load_spec(CONFIGS / f"{name}.yaml"), model)


def test_the_shipped_shadow_spec_bounds_disagreement_and_others_default_to_no_bound() -> None:
    shadow = load_spec(CONFIGS / "shadow.yaml")
    assert (shadow.max_shadow_disagreement, shadow.min_shadow_rows) == (0.1, 20)
    bluegreen = parse_spec({"strategy": "bluegreen"})
    assert (bluegreen.max_shadow_disagreement, bluegreen.min_shadow_rows) == (None, 20)


def test_default_canary_rolls_back_within_ten_seconds_and_promotes_within_a_minute() -> None:
    spec = load_spec(CONFIGS / "canary.yaml")
    # Worst case: the fault starts just after an interval began, so `threshold` full intervals plus the one in
    # progress pass before the rollback is decided.
    assert spec.interval_s * (spec.threshold + 1) <= 10
    assert spec.interval_s * len(spec.schedule()) < 60


@pytest.mark.parametrize(
    ("document", "schedule"),
    [
        ({"strategy": "canary", "step_weights": [5, 20, 60]}, [5, 20, 60]),
        ({"strategy": "canary", "step_weight": 30, "max_weight": 80}, [30, 60, 80]),
        ({"strategy": "canary", "step_weight": 25, "max_weight": 50}, [25, 50]),
        ({"strategy": "bluegreen", "iterations": 2}, [0, 0]),
        ({"strategy": "shadow", "iterations": 3}, [0, 0, 0]),
        ({"strategy": "abtest", "candidate_weight": 30, "interval_s": 4, "duration_s": 10}, [30, 30, 30]),
    ],
)
def test_schedules(document: dict, schedule: list[int]) -> None:
    assert parse_spec(document).schedule() == schedule


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "strategy: canary\nstep_weights: [10, 5]\n",
            "step_weights: must be strictly increasing, got 10 then 5",
        ),
        ("strategy: canary\nstep_weights: []\n", "step_weights: must list at least one weight"),
        (
            "strategy: canary\nstep_weights: [10, 101]\n",
            "step_weights: each weight must be a percentage in [1, 100], got 101",
        ),
        (
            "strategy: canary\nstep_weight: 10\n",
            "give step_weights (e.g. [10, 25, 50]) or both step_weight and max_weight",
        ),
        (
            "strategy: canary\nstep_weights: [10]\nstep_weight: 10\nmax_weight: 50\n",
            "give either step_weights or step_weight + max_weight, not both",
        ),
        (
            "strategy: canary\nstep_weight: 60\nmax_weight: 50\n",
            "step_weight 60 is greater than max_weight 50",
        ),
        ("strategy: canary\nstep_weights: [10]\ninterval: 2\n", "interval: Extra inputs are not permitted"),
        (
            "strategy: canary\nstep_weights: [10]\nthreshold: 0\n",
            "threshold: Input should be greater than or equal to 1",
        ),
        (
            "strategy: canary\nstep_weights: [10]\nmetrics: [{name: candidate_error_rate, max: 5}]\n",
            "metrics.0: candidate_error_rate bounds are fractions in [0, 1], got 5.0",
        ),
        (
            "strategy: canary\nstep_weights: [10]\nmetrics: [{name: candidate_p99_latency_ms}]\n",
            "metrics.0: metric check 'candidate_p99_latency_ms' needs a min or a max (or both)",
        ),
        ("strategy: bluegreen\nmirror_percent: 0\n", "mirror_percent: Input should be greater than or equal to 1"),
        ("strategy: rainbow\n", "strategy: strategy must be one of canary, bluegreen, shadow, abtest"),
        ("interval_s: 2\n", "strategy: 'strategy' is required (one of canary, bluegreen, shadow, abtest)"),
        ("- 1\n", "must be a YAML mapping with a 'strategy' key"),
        (
            "strategy: abtest\ninterval_s: 5\nduration_s: 2\n",
            "duration_s 2.0 is shorter than one interval_s (5.0)",
        ),
        (
            "strategy: shadow\nmax_shadow_disagreement: 1.5\n",
            "max_shadow_disagreement: Input should be less than or equal to 1",
        ),
        ("strategy: shadow\nmin_shadow_rows: 0\n", "min_shadow_rows: Input should be greater than or equal to 1"),
        (
            # A canary mirrors nothing, so it has no disagreement to bound.
            "strategy: canary\nstep_weights: [10]\nmax_shadow_disagreement: 0.1\n",
            "max_shadow_disagreement: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"Rollout spec {path}: {message}"
    assert caught.value.status_code == 400


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(SpecError, match=r"cannot be read \(No such file or directory\)$"):
        load_spec(path)
