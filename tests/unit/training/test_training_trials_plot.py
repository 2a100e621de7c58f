import io

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba

from training.spec import SweepSpec
from training.trial_records import TrialRecord
from training.trials_plot import GROUPS, headline, trials_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEARCH_SPACE = SweepSpec.model_validate(
    {
        "experiment": "bc",
        "model_name": "bc",
        "dataset": {"name": "breast_cancer"},
        "trainer": {"framework": "xgboost", "estimator": "xgb_classifier"},
        "search_space": {
            "max_depth": {"type": "choice", "values": [2, 3, None]},
            "learning_rate": {"type": "loguniform", "low": 0.0001, "high": 0.5},
            "subsample": {"type": "uniform", "low": 0.5, "high": 1.0},
            "n_estimators": {"type": "randint", "low": 10, "high": 40},
        },
        "num_samples": 6,
        "metric": "log_loss",
    }
).search_space


def record(index, status, metric, iterations, max_depth):
    params = {"max_depth": max_depth, "learning_rate": 0.1 / index, "subsample": 0.5 + index / 10, "n_estimators": 10}
    return TrialRecord(
        index=index, trial_id=f"t_{index - 1:05d}", params=params, metric=metric, iterations=iterations, status=status
    )


RECORDS = [
    record(1, "completed", 0.30, 4, 3),
    record(2, "early_stopped", 0.66, 1, None),
    record(3, "early_stopped", 0.50, 2, 3),
    record(4, "cut", 0.45, 3, 2),
    record(5, "failed", 0.90, 1, 2),
    record(6, "completed", None, 4, 2),  # no score: nothing to draw
]


def figure_of(records=RECORDS, winner="t_00000"):
    return trials_figure(
        records,
        title="sweep bc",
        metric="log_loss",
        direction="min",
        search_space=SEARCH_SPACE,
        winner=winner,
        max_t=4,
    )


def points(axes):
    """gid -> the (x, y) of that scatter's points, for every scatter of `axes`."""
    return {c.get_gid(): [tuple(float(v) for v in xy) for xy in c.get_offsets()] for c in axes.collections}


def test_the_score_panel_marks_how_each_trial_ended_and_the_winner():
    scores = figure_of().axes[0]
    assert scores.get_title() == "validation log_loss per trial (lower is better)"
    assert scores.get_xlabel() == "trial (in the order Tune created them)"
    assert scores.get_ylabel() == "validation log_loss"
    assert points(scores) == {
        "completed": [(1.0, 0.30)],
        "early_stopped": [(2.0, 0.66), (3.0, 0.50)],
        "cut": [(4.0, 0.45)],
        "winner": [(1.0, 0.30)],
    }
    assert [text.get_text() for text in scores.get_legend().get_texts()] == [
        "completed (1)",
        "stopped early by ASHA (2; max_t 4)",
        "cut by the time budget (1)",
        "winner: trial 1 (t_00000)",
    ]
    assert [text.get_text() for text in scores.texts] == ["1 it.", "2 it."]  # the iterations each stopped at
    colours = {c.get_gid(): tuple(c.get_facecolor()[0]) for c in scores.collections}
    assert colours == {
        "completed": to_rgba(GROUPS["completed"]["color"]),
        "early_stopped": to_rgba(GROUPS["early_stopped"]["color"]),
        "cut": to_rgba(GROUPS["cut"]["color"]),
        "winner": to_rgba("gold"),
    }
    assert len(set(colours.values())) == 4


def test_one_panel_per_searched_parameter_on_its_own_scale():
    figure = figure_of()
    panels = figure.axes[1:]
    assert [a.get_title() for a in panels] == ["max_depth", "learning_rate", "subsample", "n_estimators"]
    assert [a.get_xlabel() for a in panels] == [
        "choice of 3",
        "loguniform [0.0001, 0.5), log scale",
        "uniform [0.5, 1)",
        "randint [10, 40)",
    ]
    assert [a.get_xscale() for a in panels] == ["linear", "log", "linear", "linear"]
    assert [a.get_ylabel() for a in panels] == ["validation log_loss", "", "", ""]
    assert figure.get_suptitle() == (
        "sweep bc: 6 trials: 2 completed, 2 stopped early by ASHA, 1 cut by the time budget, 1 failed (not drawn)"
    )


def test_a_choice_is_drawn_as_categories_with_its_trials_side_by_side():
    max_depth = figure_of().axes[1]
    assert [t.get_text() for t in max_depth.get_xticklabels()] == ["2", "3", "null"]
    assert list(max_depth.get_xticks()) == [0, 1, 2]
    assert points(max_depth) == {
        "completed": [(pytest.approx(0.925), 0.30)],  # trials 1 and 3 chose 3: spread around slot 1
        "early_stopped": [(2.0, 0.66), (pytest.approx(1.075), 0.50)],
        "cut": [(0.0, 0.45)],
        "winner": [(pytest.approx(0.925), 0.30)],
    }
    learning_rate = figure_of().axes[2]
    assert points(learning_rate)["early_stopped"] == [(0.05, 0.66), (pytest.approx(0.1 / 3), 0.50)]


def test_without_a_scored_winner_or_any_score():
    assert "winner" not in points(figure_of(winner=None).axes[0])
    scores = figure_of([record(1, "failed", None, 0, 2)]).axes[0]
    assert len(scores.collections) == 0
    assert scores.get_legend() is None
    assert [text.get_text() for text in scores.texts] == ["no trial reported a score"]


def test_the_figure_renders_to_png_with_agg():
    figure = figure_of()
    assert isinstance(figure.canvas, FigureCanvasAgg)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue().startswith(PNG_SIGNATURE)
    assert len(buffer.getvalue()) > 10_000


def test_headline_counts_only_the_ways_trials_ended():
    assert headline("sweep x", RECORDS[:2]) == "sweep x: 2 trials: 1 completed, 1 stopped early by ASHA"
    assert headline("sweep x", []) == "sweep x: 0 trials"
