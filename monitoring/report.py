"""`python -m monitoring report`: one model's drift and live accuracy as Markdown plus a PNG (pure rendering).

Built from the gateway's two monitoring answers only: the `ModelStatus` (`GET /-/rayship/monitoring?model=M`) and
the `VersionDetail` per version (`GET /-/rayship/monitoring/detail?model=M`). The Markdown has the spec in one line,
a table per version (verdict, window, replicas, the most drifted features, prediction drift, live accuracy), the
model's label totals, and embeds the figure: per version, reference against live shares per bin of each drifted
feature (the top-scoring feature and the predictions when none drifted), and every version's accuracy (or MAE) over
the label window on one chart. The time is an argument, never read here; the same inputs give the same files.
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from monitoring.accuracy import AccuracyReport, LabelVerdict
from monitoring.contract import Strict
from monitoring.drift import DriftReport, FeatureDrift, PredictionDrift, Verdict
from monitoring.monitor import DistributionDetail, ModelStatus, VersionDetail, VersionStatus

TOP_FEATURES = 5  # feature rows per version table
MAX_FEATURE_PANELS = 4  # bar charts per version in the figure
MAX_PLOTTED_VERSIONS = 3  # versions with bar charts in the figure
MAX_TICK_LABELS = 20  # bin labels under one bar chart; more bins label every k-th
PREDICTIONS_PREFIX = "predictions ("
# What the figure picks first when more versions have bars than it has rows for.
_PLOT_PRIORITY = {Verdict.DRIFT: 0, Verdict.OK: 1, Verdict.INSUFFICIENT: 2, Verdict.NO_PROFILE: 3}


class ReportFiles(Strict):
    """Where `write_report` wrote the report."""

    markdown: Path = Field(description="The Markdown report.")
    plot: Path = Field(description="The PNG it embeds, beside it.")


class VersionPanels(Strict):
    """The bar charts of one version in the figure, in the order they are drawn."""

    version: str = Field(description="Version number as a string.")
    distributions: list[DistributionDetail] = Field(description="At most `MAX_FEATURE_PANELS`.")


def report_stem(model: str, now_s: float) -> str:
    """`monitoring-<model>-<UTC time, e.g. 20261202T033500Z>`, the model's name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model)
    return f"monitoring-{safe}-{datetime.fromtimestamp(now_s, tz=UTC).strftime('%Y%m%dT%H%M%SZ')}"


def write_report(status: ModelStatus, details: dict[str, VersionDetail], out_dir: Path, now_s: float) -> ReportFiles:
    """`<out_dir>/<report_stem>.md` and `.png` (the directory created), each replaced atomically."""
    stem = report_stem(status.model, now_s)
    files = ReportFiles(markdown=Path(out_dir) / f"{stem}.md", plot=Path(out_dir) / f"{stem}.png")
    files.plot.parent.mkdir(parents=True, exist_ok=True)
    _plot(status, details, now_s, files.plot)
    _write_atomically(files.markdown, render_markdown(status, details, files.plot.name, now_s).encode())
    return files


# --- Markdown ---


def render_markdown(status: ModelStatus, details: dict[str, VersionDetail], plot_name: str, now_s: float) -> str:
    lines = [
        f"# Monitoring report: {status.model}, {_utc(now_s)}",
        "",
        f"Monitor status collected at {_utc(status.collected_at)}; {len(status.versions)} versions monitored.",
        "",
        spec_line(status),
    ]
    for version in sorted(status.versions, key=_version_key):
        lines += ["", f"## Version {version}", "", *version_table(status.versions[version])]
    totals = status.labels
    lines += [
        "",
        f"## Labels of {status.model}",
        "",
        "| accepted | unknown | expired | duplicate | mismatched | pending |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {totals.accepted} | {totals.unknown} | {totals.expired} | {totals.duplicate} | {totals.mismatched} "
        f"| {totals.pending} |",
        "",
        "## Figure",
        "",
        figure_caption(status, details),
        "",
        f"![{_cell(status.model)}: reference against live per bin, accuracy over time]({plot_name})",
    ]
    return "\n".join(lines) + "\n"


def spec_line(status: ModelStatus) -> str:
    """The spec the windows are judged by, in one line."""
    spec = status.spec
    labels = spec.labels
    return (
        f"Spec ({status.spec_source}): drift window {spec.window.rows} rows / {spec.window.seconds:g} s, scored from "
        f"{spec.min_rows} rows; feature drift {spec.feature_drift.statistic} > {spec.feature_drift.threshold:g} "
        f"(categorical: chi-square p < {spec.categorical_p_value:g}); prediction drift "
        f"{spec.prediction_drift.statistic} > {spec.prediction_drift.threshold:g}; label window "
        f"{labels.window.rows} rows / {labels.window.seconds:g} s, accuracy from {labels.min_labels} labels; "
        f"task {spec.task or 'inferred'}."
    )


def version_table(state: VersionStatus) -> list[str]:
    """A two-column table: verdict, window, replicas, top features, predictions, live accuracy, label totals."""
    drift = state.drift
    rows = [
        ("verdict", verdict_text(drift)),
        ("rows in window", f"{drift.rows} (scored from {drift.min_rows})"),
        ("replicas", str(state.replicas)),
    ]
    rows += [(f"feature {feature.feature}", feature_text(feature)) for feature in drift.features[:TOP_FEATURES]]
    hidden = drift.features[TOP_FEATURES:]
    if hidden:
        drifted = sum(feature.drifted for feature in hidden)
        rows.append(("more features", f"{len(hidden)} not shown, {drifted} of them drifted"))
    if drift.prediction is not None:
        rows.append((f"predictions ({drift.prediction.over})", prediction_text(drift.prediction)))
    elif drift.verdict in (Verdict.OK, Verdict.DRIFT):
        rows.append(("predictions", "not profiled"))
    rows += accuracy_rows(state)
    return ["| what | value |", "|---|---|", *(f"| {_cell(what)} | {_cell(value)} |" for what, value in rows)]


def verdict_text(drift: DriftReport) -> str:
    if drift.verdict is Verdict.INSUFFICIENT:
        return f"insufficient data ({drift.rows} of {drift.min_rows} rows)"
    return drift.verdict.value


def feature_text(feature: FeatureDrift) -> str:
    """`DRIFT: psi 0.912 > 0.25`, `ok: js 0.031 <= 0.2`, `DRIFT: chi-square p 0.0001 < 0.01`."""
    if feature.statistic == "chi2_p_value":
        comparison = f"chi-square p {feature.score:.3g} {'<' if feature.drifted else '>='} {feature.threshold:g}"
    else:
        comparison = f"{feature.statistic} {feature.score:.3f} {'>' if feature.drifted else '<='} {feature.threshold:g}"
    return f"{'DRIFT' if feature.drifted else 'ok'}: {comparison}"


def prediction_text(prediction: PredictionDrift) -> str:
    comparison = f"{prediction.score:.3f} {'>' if prediction.drifted else '<='} {prediction.threshold:g}"
    return f"{'DRIFT' if prediction.drifted else 'ok'}: {prediction.statistic} {comparison}"


def accuracy_rows(state: VersionStatus) -> list[tuple[str, str]]:
    """Live accuracy (MAE and RMSE for a regressor) over the label window, and the labels since the monitor started."""
    report = state.accuracy
    if report is None:
        return [("live accuracy", "no labels yet"), ("labels since monitor start", str(state.labels_total))]
    regression = report.task == "regression"
    name = "live MAE / RMSE" if regression else "live accuracy"
    rows = [(name, accuracy_text(report))]
    if report.per_class_recall:
        recall = ", ".join(f"{label}: {value:.3f}" for label, value in report.per_class_recall.items())
        rows.append(("per-class recall", recall))
    since = f"{state.labels_total} labelled" if regression else f"{state.correct_total} correct of {state.labels_total}"
    rows.append(("labels since monitor start", since))
    return rows


def accuracy_text(report: AccuracyReport) -> str:
    if report.verdict is LabelVerdict.INSUFFICIENT:
        return f"insufficient labels ({report.labels} of {report.min_labels} labels in window)"
    if report.task == "regression":
        skipped = f", {report.skipped} rows skipped" if report.skipped else ""
        return (
            f"MAE {report.mae:#.4g}, RMSE {report.rmse:#.4g} over {report.labels} labels in window "
            f"(min {report.min_labels}){skipped}"
        )
    return (
        f"{report.accuracy:.3f}: {report.correct} correct of {report.labels} labels in window (min {report.min_labels})"
    )


def figure_caption(status: ModelStatus, details: dict[str, VersionDetail]) -> str:
    panels = plot_panels(status, details)
    plotted = ", ".join(panel.version for panel in panels) or "none"
    with_bars = sum(1 for version in status.versions if _distributions(details, version))
    capped = f" (the {len(panels)} most drifted of {with_bars})" if with_bars > len(panels) else ""
    return (
        f"Reference against live share of rows per bin for versions {plotted}{capped}: each drifted feature, or the "
        "top-scoring feature and the predictions when none drifted. Below: accuracy (MAE for a regressor) per label "
        "window bucket, every version."
    )


# --- the figure ---


def plot_panels(status: ModelStatus, details: dict[str, VersionDetail]) -> list[VersionPanels]:
    """Which distributions the figure draws: at most `MAX_PLOTTED_VERSIONS` versions with a profile (drifted first,
    then ok, then insufficient; newest first among equals), shown in version order."""
    candidates = [
        VersionPanels(version=version, distributions=picked)
        for version in status.versions
        if (picked := pick_distributions(status.versions[version].drift, _distributions(details, version)))
    ]
    candidates.sort(key=lambda panel: _version_key(panel.version), reverse=True)
    candidates.sort(key=lambda panel: _PLOT_PRIORITY[status.versions[panel.version].drift.verdict])
    return sorted(candidates[:MAX_PLOTTED_VERSIONS], key=lambda panel: _version_key(panel.version))


def pick_distributions(drift: DriftReport, distributions: list[DistributionDetail]) -> list[DistributionDetail]:
    """The drifted features, most drifted first, then the predictions if they drifted; when nothing drifted (or the
    window is unscored), the top-scoring feature and the predictions. At most `MAX_FEATURE_PANELS`."""
    by_name = {distribution.name: distribution for distribution in distributions}
    features = [d for d in distributions if not d.name.startswith(PREDICTIONS_PREFIX)]
    prediction = next((d for d in distributions if d.name.startswith(PREDICTIONS_PREFIX)), None)
    if drift.prediction is not None:
        prediction = by_name.get(f"{PREDICTIONS_PREFIX}{drift.prediction.over})", prediction)
    drifted = [by_name[f.feature] for f in drift.features if f.drifted and f.feature in by_name]
    if drifted:
        picked = drifted[:MAX_FEATURE_PANELS]
        if prediction is not None and drift.prediction is not None and drift.prediction.drifted:
            picked = [*drifted[: MAX_FEATURE_PANELS - 1], prediction]
        return picked
    top = next((by_name[f.feature] for f in drift.features if f.feature in by_name), None)
    top = top or (features[0] if features else None)
    return [d for d in (top, prediction) if d is not None]


def _plot(status: ModelStatus, details: dict[str, VersionDetail], now_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; imported here so nothing loads a GUI backend at import time
    from matplotlib import pyplot

    panels = plot_panels(status, details)
    columns = max([len(panel.distributions) for panel in panels] + [2])
    rows = len(panels) + 1
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    # Matplotlib's defaults, whatever a matplotlibrc says, so the same inputs draw the same pixels; and names are
    # text, never mathtext (a '$' in a feature or class name).
    with matplotlib.style.context(["default", {"text.parse_math": False}]):
        figure = pyplot.figure(figsize=(3.6 * columns, 3.3 * rows))
        try:
            grid = figure.add_gridspec(rows, columns)
            for row, panel in enumerate(panels):
                drift = status.versions[panel.version].drift
                for column, distribution in enumerate(panel.distributions):
                    _bars(figure.add_subplot(grid[row, column]), panel.version, distribution, drift)
            _accuracy_lines(figure.add_subplot(grid[rows - 1, :]), status, details, now_s)
            if not panels:
                figure.text(0.5, 0.75, "no version has a reference profile to plot", ha="center", va="center")
            figure.suptitle(f"{status.model}: monitoring at {_utc(now_s)} (spec: {status.spec_source})")
            figure.tight_layout()
            # No "Software" entry: the bytes do not depend on matplotlib's version.
            figure.savefig(temporary, dpi=80, metadata={"Software": None})
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        finally:
            pyplot.close(figure)
    _fsync_replace(temporary, path)


def _bars(axes, version: str, distribution: DistributionDetail, drift: DriftReport) -> None:
    import numpy as np

    positions = np.arange(len(distribution.bins))
    live_rows = sum(distribution.live)
    axes.bar(positions - 0.2, _shares(distribution.reference), width=0.4, label="reference")
    axes.bar(positions + 0.2, _shares(distribution.live), width=0.4, label=f"live ({live_rows} rows)")
    step = max(1, math.ceil(len(distribution.bins) / MAX_TICK_LABELS))
    axes.set_xticks(positions[::step], distribution.bins[::step], rotation=45, ha="right", fontsize=7)
    axes.set_xlabel("bin")
    axes.set_ylabel("share of rows")
    axes.set_title(f"version {version}: {distribution.name}\n{_panel_verdict(distribution, drift)}", fontsize=9)
    axes.legend(fontsize=7)


def _panel_verdict(distribution: DistributionDetail, drift: DriftReport) -> str:
    if drift.verdict is Verdict.INSUFFICIENT:
        return verdict_text(drift)
    if distribution.name.startswith(PREDICTIONS_PREFIX):
        prediction = drift.prediction
        matches = prediction is not None and distribution.name == f"{PREDICTIONS_PREFIX}{prediction.over})"
        return prediction_text(prediction) if matches else "not scored"
    feature = next((f for f in drift.features if f.feature == distribution.name), None)
    return feature_text(feature) if feature is not None else "not scored"


def _accuracy_lines(axes, status: ModelStatus, details: dict[str, VersionDetail], now_s: float) -> None:
    metrics = set()
    for version in sorted(status.versions, key=_version_key):
        detail = details.get(version)
        points = detail.accuracy_series if detail is not None else []
        regression = any(point.mae is not None for point in points)
        series = [
            ((now_s - point.start_s) / 60, point.mae if regression else point.accuracy)
            for point in points
            if (point.mae if regression else point.accuracy) is not None
        ]
        if not series:
            continue
        metrics.add("MAE" if regression else "accuracy")
        minutes, values = zip(*series, strict=True)
        axes.plot(minutes, values, "o-", label=f"version {version} ({'MAE' if regression else 'accuracy'})")
    axes.set_xlabel("minutes before now (label arrival bucket)")
    axes.set_ylabel(" / ".join(sorted(metrics)) or "accuracy")
    axes.set_title("live accuracy over the label window" if metrics else "no labels in the label window", fontsize=9)
    if metrics:
        axes.invert_xaxis()  # time runs left to right: the oldest bucket first
        if metrics == {"accuracy"}:
            axes.set_ylim(-0.05, 1.05)
        axes.legend(fontsize=7, loc="best")
    else:
        axes.set_xticks([])
        axes.set_yticks([])


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]


def _distributions(details: dict[str, VersionDetail], version: str) -> list[DistributionDetail]:
    detail = details.get(version)
    return detail.distributions if detail is not None else []


# --- helpers ---


def _write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename over `path`: readers see the old or the new report."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _fsync_replace(temporary: Path, path: Path) -> None:
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _utc(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (1 << 62, version)
