"""The trials plot of a sweep: each trial's validation score, how it ended and the winner; then each searched
hyper-parameter against the score.

Pure: records in, a matplotlib `Figure` out, drawn by the Agg canvas (no pyplot, no global backend, no display).
The caller saves or logs it. Every scatter carries its group as `gid` (a status, or "winner"), which is how tests
and readers of the figure find them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from training.spec import Choice, Distribution, LogUniform, RandInt, Scalar, Uniform
from training.trial_records import TrialRecord, TrialStatus, status_counts

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_COLUMNS = 4  # parameter panels per row
MAX_ANNOTATED = 40  # early-stopped points labelled with their iterations; beyond that the labels only clutter
CATEGORY_SPREAD = 0.3  # width, in category slots, over which trials of one category are spread side by side
WINNER = "winner"
# How each way a plotted trial ended looks. Failed trials have no trustworthy score: they are counted, not drawn.
GROUPS: dict[TrialStatus, dict[str, Any]] = {
    "completed": {"label": "completed", "marker": "o", "color": "tab:blue"},
    "early_stopped": {"label": "stopped early by ASHA", "marker": "v", "color": "tab:orange"},
    "cut": {"label": "cut by the time budget", "marker": "s", "color": "tab:gray"},
}
# A large star behind the winner's own marker, so that how the winner ended stays visible.
WINNER_STYLE: dict[str, Any] = {"marker": "*", "s": 400, "color": "gold", "edgecolors": "black", "zorder": 1}
POINT_ZORDER = 2
HEADLINE_WORDS: dict[TrialStatus, str] = {
    "completed": "completed",
    "early_stopped": "stopped early by ASHA",
    "cut": "cut by the time budget",
    "failed": "failed (not drawn)",
}


def trials_figure(
    records: Sequence[TrialRecord],
    *,
    title: str,
    metric: str,
    direction: str,
    search_space: Mapping[str, Distribution],
    winner: str | None,
    max_t: int | None = None,
) -> Figure:
    """The figure: a panel of the score per trial across the top, one panel per searched parameter below.

    `winner` is the winning trial's id; `max_t` ASHA's budget (shown beside the early-stopped count), if ASHA ran.
    """
    from matplotlib import style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plotted = [r for r in records if r.metric is not None and r.status != "failed"]
    names = list(search_space)
    columns = max(1, min(len(names), MAX_COLUMNS))
    rows = 1 + math.ceil(len(names) / columns)
    # Matplotlib's defaults, whatever a matplotlibrc says, so the same records draw the same figure; names are
    # text, never mathtext.
    with style.context(["default", {"text.parse_math": False}]):
        figure = Figure(figsize=(max(8.0, 3.2 * columns), 3.4 * rows), layout="constrained")
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(rows, columns)
        _score_per_trial(figure.add_subplot(grid[0, :]), plotted, metric, direction, winner, max_t)
        for i, name in enumerate(names):
            axes = figure.add_subplot(grid[1 + i // columns, i % columns])
            _parameter(axes, name, search_space[name], plotted, winner)
            if i % columns == 0:
                axes.set_ylabel(f"validation {metric}")
        figure.suptitle(headline(title, records))
    return figure


def headline(title: str, records: Sequence[TrialRecord]) -> str:
    """`title: N trials: 5 completed, 3 stopped early by ASHA, ...` (only the ways some trial ended)."""
    counts = status_counts(records)
    ended = ", ".join(f"{count} {HEADLINE_WORDS[status]}" for status, count in counts.items() if count)
    return f"{title}: {len(records)} trials" + (f": {ended}" if ended else "")


def _score_per_trial(
    axes: Axes,
    plotted: Sequence[TrialRecord],
    metric: str,
    direction: str,
    winner: str | None,
    max_t: int | None,
) -> None:
    from matplotlib.ticker import MaxNLocator

    for status, group in _groups(plotted).items():
        label = f"{GROUPS[status]['label']} ({len(group)}"
        label += f"; max_t {max_t})" if status == "early_stopped" and max_t is not None else ")"
        axes.scatter(
            [r.index for r in group],
            [r.metric for r in group],
            marker=GROUPS[status]["marker"],
            color=GROUPS[status]["color"],
            label=label,
            gid=status,
            zorder=POINT_ZORDER,
        )
    early = [r for r in plotted if r.early_stopped]
    if len(early) <= MAX_ANNOTATED:
        for record in early:
            axes.annotate(
                f"{record.iterations} it.",
                (record.index, record.metric),
                textcoords="offset points",
                xytext=(5, -11),
                fontsize=7,
                color=GROUPS["early_stopped"]["color"],
            )
    best = next((r for r in plotted if r.trial_id == winner), None)
    if best is not None:
        label = f"winner: trial {best.index} ({best.trial_id})"
        axes.scatter([best.index], [best.metric], label=label, gid=WINNER, **WINNER_STYLE)
    better = "lower" if direction == "min" else "higher"
    axes.set_title(f"validation {metric} per trial ({better} is better)")
    axes.set_xlabel("trial (in the order Tune created them)")
    axes.set_ylabel(f"validation {metric}")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if plotted:
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no trial reported a score", transform=axes.transAxes, ha="center", va="center")


def _parameter(
    axes: Axes, name: str, distribution: Distribution, plotted: Sequence[TrialRecord], winner: str | None
) -> None:
    with_value = [r for r in plotted if name in r.params]
    where = _positions(distribution, name, with_value)
    for status, group in _groups(with_value).items():
        shown = [r for r in group if r.index in where]
        axes.scatter(
            [where[r.index] for r in shown],
            [r.metric for r in shown],
            marker=GROUPS[status]["marker"],
            color=GROUPS[status]["color"],
            gid=status,
            zorder=POINT_ZORDER,
        )
    best = next((r for r in with_value if r.trial_id == winner and r.index in where), None)
    if best is not None:
        axes.scatter([where[best.index]], [best.metric], gid=WINNER, **WINNER_STYLE)
    axes.set_title(name)
    axes.set_xlabel(describe(distribution))
    if isinstance(distribution, Choice):
        axes.set_xticks(range(len(distribution.values)), [shown_value(v) for v in distribution.values])
        axes.set_xlim(-0.5, len(distribution.values) - 0.5)
    elif isinstance(distribution, LogUniform):
        axes.set_xscale("log")
    elif isinstance(distribution, RandInt):
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _groups(records: Sequence[TrialRecord]) -> dict[TrialStatus, list[TrialRecord]]:
    """The records of each drawn status that has any, in `GROUPS` order."""
    groups = {status: [r for r in records if r.status == status] for status in GROUPS}
    return {status: group for status, group in groups.items() if group}


def _positions(distribution: Distribution, name: str, records: Sequence[TrialRecord]) -> dict[int, float]:
    """Record index -> x of its value: the value itself, or for a choice its slot, trials of one slot spread side
    by side (in trial order) so that each stays visible. Values outside the choice's list are left out."""
    if not isinstance(distribution, Choice):
        return {r.index: float(r.params[name]) for r in records if _is_number(r.params[name])}
    slots: dict[int, list[int]] = {}
    for record in records:
        slot = _slot(distribution.values, record.params[name])
        if slot is not None:
            slots.setdefault(slot, []).append(record.index)
    positions = {}
    for slot, indices in slots.items():
        step = CATEGORY_SPREAD / len(indices)
        for k, index in enumerate(indices):
            positions[index] = slot + (k - (len(indices) - 1) / 2) * step
    return positions


def _slot(values: Sequence[Scalar], value: Scalar) -> int | None:
    # By type too: True == 1 in Python, but a choice of [1, True] has two slots.
    return next((i for i, v in enumerate(values) if v == value and type(v) is type(value)), None)


def _is_number(value: Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def shown_value(value: Scalar) -> str:
    """A choice's value as its tick label: YAML's `null` for None, else as Python prints it."""
    return "null" if value is None else str(value)


def describe(distribution: Distribution) -> str:
    """The x axis label: the distribution as a spec writes it, e.g. `loguniform [0.03, 0.3), log scale`."""
    match distribution:
        case Choice(values=values):
            return f"choice of {len(values)}"
        case LogUniform(low=low, high=high):
            return f"loguniform [{low:g}, {high:g}), log scale"
        case Uniform(low=low, high=high):
            return f"uniform [{low:g}, {high:g})"
        case RandInt(low=low, high=high):
            return f"randint [{low}, {high})"
    raise TypeError(f"unsupported distribution {distribution!r}")
