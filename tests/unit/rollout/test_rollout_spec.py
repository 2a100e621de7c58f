"""Rollout specs: the shipped files load, schedules follow Flagger's step rules, bad files name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.core.spec import (
    ABTestSpec,
    AccuracyCheck,
    BlueGreenSpec,
    CanarySpec,
    PredictionDriftCheck,
    ShadowSpec,
    parse_spec,
)
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


def test_the_shipped_specs_judge_model_quality() -> None:
    canary, abtest = load_spec(CONFIGS / "canary.yaml"), load_spec(CONFIGS / "abtest.yaml")
    assert canary.accuracy_vs_champion == AccuracyCheck(min_labels=5, max_drop=0.05, p_value=0.01)
    assert abtest.accuracy_vs_champion == AccuracyCheck(min_labels=20, max_drop=0.05, p_value=0.01)
    assert (canary.prediction_drift_vs_champion, abtest.prediction_drift_vs_champion) == (None, None)
    bluegreen, shadow = load_spec(CONFIGS / "bluegreen.yaml"), load_spec(CONFIGS / "shadow.yaml")
    assert bluegreen.prediction_drift_vs_champion == PredictionDriftCheck(max_js=0.2, min_rows=20)
    assert shadow.prediction_drift_vs_champion == PredictionDriftCheck(max_js=0.2, min_rows=15)
    # Unset by default: a spec judges quality only when it says so.
    defaults = parse_spec({"strategy": "canary", "step_weights": [10]})
    assert (defaults.accuracy_vs_champion, defaults.prediction_drift_vs_champion) == (None, None)
    assert AccuracyCheck() == AccuracyCheck(min_labels=30, max_drop=0.0, p_value=0.05, min_accuracy=None)
    assert PredictionDriftCheck(max_js=0.2).min_rows == 50


DEMO_RPS = 15  # `make demo`'s traffic, a label for every request


def test_the_shipped_quality_checks_judge_every_interval_of_the_demo() -> None:
    # Labels a version gets per interval at the candidate's first weight (its share of live answers) ...
    for name in ("canary", "abtest"):
        spec = load_spec(CONFIGS / f"{name}.yaml")
        weight = spec.schedule()[0] / 100
        candidate, champion = (DEMO_RPS * spec.interval_s * share for share in (weight, 1 - weight))
        assert min(candidate, champion) >= spec.accuracy_vs_champion.min_labels, name
    # ... and rows each version predicts per interval: the champion every request, the candidate the mirrored ones.
    for name in ("bluegreen", "shadow"):
        spec = load_spec(CONFIGS / f"{name}.yaml")
        candidate = DEMO_RPS * spec.interval_s * spec.mirror_percent / 100
        assert candidate >= spec.prediction_drift_vs_champion.min_rows, name


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
        (
            # Blue/green and shadow analyse mirrored answers only, which nobody labels: no accuracy to judge.
            "strategy: bluegreen\naccuracy_vs_champion: {min_labels: 5}\n",
            "accuracy_vs_champion: Extra inputs are not permitted",
        ),
        ("strategy: shadow\naccuracy_vs_champion: {}\n", "accuracy_vs_champion: Extra inputs are not permitted"),
        (
            "strategy: canary\nstep_weights: [10]\naccuracy_vs_champion: {p_value: 0.7}\n",
            "accuracy_vs_champion.p_value: Input should be less than 0.5",
        ),
        (
            "strategy: canary\nstep_weights: [10]\naccuracy_vs_champion: {min_labels: 0}\n",
            "accuracy_vs_champion.min_labels: Input should be greater than or equal to 1",
        ),
        (
            "strategy: abtest\naccuracy_vs_champion: {max_drop: 5}\n",
            "accuracy_vs_champion.max_drop: Input should be less than or equal to 1",
        ),
        (
            "strategy: canary\nstep_weights: [10]\naccuracy_vs_champion: {min_labels: 5, max_js: 0.2}\n",
            "accuracy_vs_champion.max_js: Extra inputs are not permitted",
        ),
        (
            "strategy: canary\nstep_weights: [10]\nprediction_drift_vs_champion: {min_rows: 5}\n",
            "prediction_drift_vs_champion.max_js: Field required",
        ),
        (
            "strategy: shadow\nprediction_drift_vs_champion: {max_js: 1.5}\n",
            "prediction_drift_vs_champion.max_js: Input should be less than or equal to 1",
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
