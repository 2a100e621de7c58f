"""The end-of-rollout report: Markdown (verdict, steps, per-interval figures) plus a PNG of candidate weight,
error rate and p99 latency per version over time. Built from the event log and the progress history only.

Each check a spec may set beyond the health checks (shadow disagreement, accuracy against the champion, the
candidate's minimum accuracy, prediction drift against the champion) adds its columns to the interval table and a
summary line only when the spec set it, which the records show: the check is among an interval's checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rayship.atomic_file import write_atomically
from rollout.core.analysis import (
    ACCURACY_VS_CHAMPION,
    CANDIDATE_ACCURACY,
    MONITORING_UNAVAILABLE,
    PREDICTION_DRIFT_VS_CHAMPION,
    SHADOW_DISAGREEMENT,
    CheckResult,
    accuracy,
    agreement,
    describe_accuracy,
    describe_agreement,
    prediction_js,
)
from rollout.core.observation import VersionWindow
from rollout.core.state_machine import CLOCK_TOLERANCE_S
from rollout.effects import carried_verdict
from rollout.persistence.history import Progress
from rollout.persistence.store import AppliedEvent


@dataclass(frozen=True)
class Interval:
    """One analysed window, relative to the rollout's start."""

    t_s: float
    candidate_weight: int
    window_s: float
    candidate: VersionWindow
    champion: VersionWindow
    failed_checks: tuple[str, ...]
    shadow_check: CheckResult | None = None  # the shadow-disagreement check, when the spec bounds it
    accuracy_check: CheckResult | None = None  # accuracy_vs_champion, when the spec sets it
    min_accuracy_check: CheckResult | None = None  # candidate_accuracy, when the spec sets min_accuracy
    drift_check: CheckResult | None = None  # prediction_drift_vs_champion, when the spec sets it


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    plot: Path


def analysed_intervals(history: list[Progress], events: list[AppliedEvent]) -> list[Interval]:
    """The records whose observation the policy consumed (not the "interval not over yet" polls), each with the
    candidate weight the event log says was in force while its window ran."""
    if not history:
        return []
    t0 = history[0].at_s
    timeline = weight_timeline(events)
    intervals = []
    for record in history:
        observation = record.observation
        # Consumed: the policy started the next interval at the observation (a hold) or, after an applied
        # action, a little later; a poll before the interval ended leaves it starting earlier.
        if observation is None or record.state.interval_started_at_s < observation.collected_at_s:
            continue
        intervals.append(
            Interval(
                t_s=observation.collected_at_s - t0,
                candidate_weight=weight_at(timeline, observation.collected_at_s - observation.window_s),
                window_s=observation.window_s,
                candidate=observation.window(record.state.candidate),
                champion=observation.window(record.state.champion),
                failed_checks=tuple(check.name for check in record.checks if not check.passed),
                shadow_check=_check(record.checks, SHADOW_DISAGREEMENT),
                accuracy_check=_check(record.checks, ACCURACY_VS_CHAMPION),
                min_accuracy_check=_check(record.checks, CANDIDATE_ACCURACY),
                drift_check=_check(record.checks, PREDICTION_DRIFT_VS_CHAMPION),
            )
        )
    return intervals


def _check(checks: list[CheckResult], name: str) -> CheckResult | None:
    return next((check for check in checks if check.name == name), None)


def weight_timeline(events: list[AppliedEvent]) -> list[tuple[float, int]]:
    """(applied at, candidate weight) of every step that reached the router, oldest first.

    The event log, not the progress history, says when a weight took effect: the driver starts the next window
    right after applying an action and only then emits the action's progress record, so that record is stamped
    after the window it opened began (reading weights from it showed every interval the previous step's weight).
    """
    return [(event.applied_at_s, event.candidate_weight) for event in events if event.error is None]


def weight_at(timeline: list[tuple[float, int]], at_s: float) -> int:
    """The candidate weight in force at `at_s` (0 before the first applied step)."""
    weight = 0
    for applied_at_s, applied_weight in timeline:
        # A window starts at a snapshot taken after the apply, on the same clock: allow float rounding only.
        if applied_at_s > at_s + CLOCK_TOLERANCE_S:
            break
        weight = applied_weight
    return weight


def verdict(history: list[Progress], events: list[AppliedEvent]) -> str:
    """The last verdict the event log recorded, else the final phase."""
    for event in reversed(events):
        outcome = carried_verdict(event.effect)
        if outcome is not None:
            return outcome.verdict
    return history[-1].state.phase.value.lower() if history else "unknown"


def render_markdown(history: list[Progress], events: list[AppliedEvent], plot_name: str) -> str:
    final = history[-1].state
    t0 = history[0].at_s
    lines = [
        f"# Rollout {final.rollout_id}: {final.model} {final.champion} -> {final.candidate} ({final.strategy})",
        "",
        f"**Verdict: {verdict(history, events)}** - {final.message}",
        "",
        f"Started {_utc(t0)}, last update {_utc(history[-1].at_s)} ({history[-1].at_s - t0:.1f} s); "
        f"{final.iterations} conclusive intervals, {final.failed_checks} failed.",
        "",
        f"![candidate weight, error rate and p99 per version]({plot_name})",
        "",
        "## Steps applied",
        "",
        "| step | t (s) | action | candidate weight | outcome |",
        "|---:|---:|---|---:|---|",
    ]
    for event in events:
        outcome = f"failed: {event.error}" if event.error else event.reason
        replay = " (replayed)" if event.replayed else ""
        lines.append(
            f"| {event.step_id} | {event.applied_at_s - t0:.1f} | {event.action}{replay} | "
            f"{event.candidate_weight}% | {_cell(outcome)} |"
        )
    intervals = analysed_intervals(history, events)
    summary = disagreement_summary(intervals)  # blue/green may bound the disagreement of its mirrored requests too
    shadow = final.strategy == "shadow" or summary is not None
    if shadow:
        lines += ["", f"Shadow agreement with version {final.champion}: {overall_agreement(intervals)}."]
    if summary is not None:
        lines += ["", summary]
    lines += [line for quality in quality_summary(intervals) for line in ("", quality)]
    table = _interval_table(
        intervals,
        shadow,
        checked=summary is not None,
        accuracy_checked=any(interval.accuracy_check is not None for interval in intervals),
        drift_checked=any(interval.drift_check is not None for interval in intervals),
    )
    lines += ["", "## Intervals analysed", "", *table]
    return "\n".join(lines) + "\n"


def overall_agreement(intervals: list[Interval]) -> str:
    """The candidate's shadow agreement summed over the analysed intervals."""
    compared = sum(interval.candidate.shadow_rows_compared for interval in intervals)
    agreed = sum(interval.candidate.shadow_rows_agreed for interval in intervals)
    return describe_agreement(compared, agreed)


def disagreement_summary(intervals: list[Interval]) -> str | None:
    """How the shadow-disagreement check went over the analysed intervals; None when the spec did not bound it."""
    checks = [interval.shadow_check for interval in intervals if interval.shadow_check is not None]
    if not checks:
        return None
    failed = sum(1 for check in checks if not check.passed)
    too_few = sum(1 for check in checks if check.value is None)
    return (
        f"Shadow disagreement check (max {checks[-1].limit:g} per interval): failed in {failed} of {len(checks)} "
        f"intervals, inconclusive (too few rows) in {too_few}."
    )


def quality_summary(intervals: list[Interval]) -> list[str]:
    """How each quality check the spec set went over the analysed intervals, with the figures summed over them;
    empty when the spec set none."""
    lines = []
    accuracy_checks = [interval.accuracy_check for interval in intervals if interval.accuracy_check is not None]
    if accuracy_checks:
        candidate = _labels(interval.candidate for interval in intervals)
        champion = _labels(interval.champion for interval in intervals)
        lines.append(
            f"Accuracy check against the champion (max drop {accuracy_checks[-1].limit:.2f} per interval): "
            f"{_outcomes(accuracy_checks)}. Over the analysed intervals: candidate {describe_accuracy(*candidate)}, "
            f"champion {describe_accuracy(*champion)}."
        )
    floors = [interval.min_accuracy_check for interval in intervals if interval.min_accuracy_check is not None]
    if floors:
        lines.append(f"Minimum accuracy check (min {floors[-1].limit:g} per interval): {_outcomes(floors)}.")
    drift_checks = [interval.drift_check for interval in intervals if interval.drift_check is not None]
    if drift_checks:
        lines.append(
            f"Prediction drift check against the champion (max JS distance {drift_checks[-1].limit:g} per "
            f"interval): {_outcomes(drift_checks)}. Over the analysed intervals: {overall_drift(intervals)}."
        )
    return lines


def overall_drift(intervals: list[Interval]) -> str:
    """The JS distance between the candidate's and the champion's predicted classes summed over the intervals."""
    candidate = _classes(interval.candidate for interval in intervals)
    champion = _classes(interval.champion for interval in intervals)
    rows = (sum(candidate.values()), sum(champion.values()))
    if not all(rows):
        return f"JS distance not measured ({rows[0]} and {rows[1]} predicted rows)"
    return f"JS distance {prediction_js(candidate, champion):.3g} ({rows[0]} and {rows[1]} predicted rows)"


def _outcomes(checks: list[CheckResult]) -> str:
    failed = sum(1 for check in checks if not check.passed)
    skipped = [check for check in checks if check.value is None]
    unavailable = sum(1 for check in skipped if check.reason.startswith(MONITORING_UNAVAILABLE))
    return (
        f"failed in {failed} of {len(checks)} intervals, inconclusive in {len(skipped)} "
        f"(monitoring unavailable in {unavailable})"
    )


def _labels(windows) -> tuple[int, int]:
    labels = correct = 0
    for window in windows:
        labels, correct = labels + window.labels, correct + window.correct
    return labels, correct


def _classes(windows) -> dict[str, int]:
    totals: dict[str, int] = {}
    for window in windows:
        for name, rows in (window.predicted_classes or {}).items():
            totals[name] = totals.get(name, 0) + rows
    return totals


def _interval_table(
    intervals: list[Interval],
    shadow: bool,
    checked: bool,
    accuracy_checked: bool = False,
    drift_checked: bool = False,
) -> list[str]:
    """One row per analysed interval; a shadow rollout's table also gives the candidate's agreement and, when the
    spec bounds it (`checked`), its disagreement against that bound; a spec with an accuracy check adds both
    versions' accuracy, and one with a prediction drift check the JS distance against its bound."""
    shown = (
        ("agreement", shadow),
        ("disagreement", checked),
        ("candidate accuracy", accuracy_checked),
        ("champion accuracy", accuracy_checked),
        ("prediction JS", drift_checked),
    )
    extra_columns = [name for name, visible in shown if visible]
    lines = [
        "| t (s) | weight | candidate req/s | candidate errors | candidate p99 ms | champion req/s | "
        f"champion errors | champion p99 ms |{''.join(f' {name} |' for name in extra_columns)} failed checks |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(extra_columns) + "---|",
    ]
    for interval in intervals:
        candidate, champion = interval.candidate, interval.champion
        extra_cells = f" {_agreement(candidate)} |" if shadow else ""
        extra_cells += f" {_disagreement(interval.shadow_check)} |" if checked else ""
        extra_cells += f" {_accuracy(candidate)} | {_accuracy(champion)} |" if accuracy_checked else ""
        extra_cells += f" {_drift(interval)} |" if drift_checked else ""
        failed = ", ".join(interval.failed_checks) or "-"
        lines.append(
            f"| {interval.t_s:.1f} | {interval.candidate_weight}% | {_rate(candidate, interval.window_s)} | "
            f"{_errors(candidate)} | {_ms(candidate.p99_ms)} | {_rate(champion, interval.window_s)} | "
            f"{_errors(champion)} | {_ms(champion.p99_ms)} |{extra_cells} {failed} |"
        )
    return lines


def write_report(directory: Path, history: list[Progress], events: list[AppliedEvent]) -> ReportFiles:
    """`<directory>/<model>-<rollout_id>.md` and `.png`, each written atomically."""
    final = history[-1].state
    stem = f"{final.model}-{final.rollout_id}"
    files = ReportFiles(markdown=Path(directory) / f"{stem}.md", plot=Path(directory) / f"{stem}.png")
    files.plot.parent.mkdir(parents=True, exist_ok=True)
    _plot(history, events, files.plot)
    write_atomically(files.markdown, render_markdown(history, events, files.plot.name))
    return files


def _plot(history: list[Progress], events: list[AppliedEvent], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; imported here so nothing loads a GUI backend at import time
    from matplotlib import pyplot

    final, t0 = history[-1].state, history[0].at_s
    intervals = analysed_intervals(history, events)
    timeline = weight_timeline(events)
    figure, (weights, errors, latency) = pyplot.subplots(3, 1, sharex=True, figsize=(8, 7))
    # From the start to the last record, the weight the event log says was in force.
    changes = [t0, *(at_s for at_s, _ in timeline), history[-1].at_s]
    weights.step([t - t0 for t in changes], [weight_at(timeline, t) for t in changes], where="post")
    weights.set_ylabel(f"weight of {final.candidate} (%)")
    weights.set_ylim(-5, 105)
    for label, pick in (
        (f"candidate {final.candidate}", "candidate"),
        (f"champion {final.champion}", "champion"),
    ):
        times = [i.t_s for i in intervals]
        windows = [getattr(i, pick) for i in intervals]
        errors.plot(times, [w.errors / w.requests if w.requests else float("nan") for w in windows], "o-", label=label)
        latency.plot(times, [w.p99_ms if w.p99_ms is not None else float("nan") for w in windows], "o-", label=label)
    errors.set_ylabel("error rate")
    latency.set_ylabel("p99 latency (ms)")
    latency.set_xlabel("seconds since start")
    errors.legend(loc="upper left")
    figure.suptitle(f"{final.model}: {final.champion} -> {final.candidate} ({final.strategy}, {final.phase.value})")
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    figure.savefig(temporary, dpi=80)
    pyplot.close(figure)
    os.replace(temporary, path)


def _utc(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rate(window: VersionWindow, window_s: float) -> str:
    return f"{window.requests / window_s:.1f}" if window_s > 0 else "-"


def _errors(window: VersionWindow) -> str:
    return f"{window.errors}/{window.requests}" if window.requests else "-"


def _agreement(window: VersionWindow) -> str:
    share = agreement(window.shadow_rows_compared, window.shadow_rows_agreed)
    return "-" if share is None else f"{share:.1%} ({window.shadow_rows_agreed}/{window.shadow_rows_compared})"


def _disagreement(check: CheckResult | None) -> str:
    if check is None:
        return "-"
    if check.value is None:
        return "too few rows"
    return f"{check.value:.1%} (max {check.limit:.1%})"


def _accuracy(window: VersionWindow) -> str:
    if window.quality_unavailable is not None:
        return "unavailable"
    share = accuracy(window.labels, window.correct)
    return "-" if share is None else f"{share:.1%} ({window.correct}/{window.labels})"


def _drift(interval: Interval) -> str:
    check = interval.drift_check
    if check is None:
        return "-"
    if check.value is not None:
        return f"{check.value:.3f} (max {check.limit:g})"
    if check.reason.startswith(MONITORING_UNAVAILABLE):
        return "unavailable"
    if interval.candidate.predicted_classes is None or interval.champion.predicted_classes is None:
        return "no classes"
    return "too few rows"


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
