import pytest

from training.gate import ChampionScore, GateDecision, decide


def champ(score, label="iris/3", error=None):
    return ChampionScore(label=label, score=score, error=error)


def test_first_version_passes_without_a_champion():
    assert decide("accuracy", "max", 0.9, None, margin=0.01) == GateDecision(
        passed=True, reasons=["no champion to compare with; accuracy 0.9000"]
    )


def test_candidate_must_beat_champion_by_the_margin():
    assert decide("accuracy", "max", 0.96, champ(0.95), margin=0.01).passed
    failed = decide("accuracy", "max", 0.955, champ(0.95), margin=0.01)
    assert failed == GateDecision(
        passed=False,
        reasons=["accuracy 0.9550 does not beat champion iris/3 (0.9500) by margin 0.0100"],
    )


def test_zero_margin_admits_a_tie_but_not_worse():
    assert decide("accuracy", "max", 0.95, champ(0.95), margin=0.0).passed
    assert not decide("accuracy", "max", 0.9499, champ(0.95), margin=0.0).passed


def test_lower_is_better_metrics_compare_downwards():
    assert decide("log_loss", "min", 0.20, champ(0.30), margin=0.05).passed
    assert not decide("log_loss", "min", 0.28, champ(0.30), margin=0.05).passed


def test_minimum_score_and_champion_failures_are_all_reported():
    decision = decide("accuracy", "max", 0.80, champ(0.95), margin=0.0, min_score=0.9)
    assert decision == GateDecision(
        passed=False,
        reasons=[
            "accuracy 0.8000 misses the minimum 0.9000",
            "accuracy 0.8000 does not beat champion iris/3 (0.9500) by margin 0.0000",
        ],
    )


def test_a_champion_that_cannot_be_scored_fails_the_gate():
    decision = decide("accuracy", "max", 0.99, champ(None, error="missing column 'x'"), margin=0.0)
    assert decision.passed is False
    assert decision.reasons == ["champion iris/3 could not be scored on this holdout: missing column 'x'"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_candidate_never_passes(bad):
    assert not decide("accuracy", "max", bad, None, margin=0.0).passed
