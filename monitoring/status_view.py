"""`python -m monitoring status`: the monitor's `ModelStatus` as one table per version, and the model's retraining
cycles (pure rendering)."""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from monitoring.accuracy import LabelVerdict
from monitoring.drift import Verdict
from monitoring.monitor import ModelStatus, VersionStatus
from monitoring.retrain.cycle import Cycle

TOP_FEATURES = 5
MAX_CYCLES = 5


def render_status(status: ModelStatus, served: list[str]) -> Group:
    """A header line and a table per version; versions the gateway serves but the monitor never heard from are
    listed as such (a replica reports within seconds of starting)."""
    spec = status.spec
    header = Text(
        f"{status.model}: window {spec.window.rows} rows / {spec.window.seconds:g} s, scored from {spec.min_rows} "
        f"rows; feature drift {spec.feature_drift.statistic} > {spec.feature_drift.threshold:g}, prediction drift "
        f"{spec.prediction_drift.statistic} > {spec.prediction_drift.threshold:g} (spec: {status.spec_source})"
    )
    parts: list = [header]
    for version in sorted(set(status.versions) | set(served), key=_version_key):
        state = status.versions.get(version)
        parts.append(_version_table(version, state) if state else Text(f"version {version}: no report from it yet"))
    return Group(*parts)


def _version_table(version: str, state: VersionStatus) -> Group:
    drift = state.drift
    title = Text(f"version {version}: {drift.verdict.value} ({drift.rows} rows in window, {state.replicas} replicas)")
    table = Table("what", "statistic", "score", "threshold", "verdict")
    if drift.verdict is Verdict.INSUFFICIENT:
        table.add_row("window", "rows", str(drift.rows), f">= {drift.min_rows}", "insufficient data")
    for feature in drift.features[:TOP_FEATURES]:
        verdict = "DRIFT" if feature.drifted else "ok"
        table.add_row(feature.feature, feature.statistic, f"{feature.score:.3f}", f"{feature.threshold:g}", verdict)
    if drift.prediction is not None:
        prediction = drift.prediction
        table.add_row(
            f"predictions ({prediction.over})",
            prediction.statistic,
            f"{prediction.score:.3f}",
            f"{prediction.threshold:g}",
            "DRIFT" if prediction.drifted else "ok",
        )
    if state.accuracy is not None:
        table.add_row("live accuracy", *_accuracy_cells(state))
    return Group(title, table) if table.row_count else Group(title)


def _accuracy_cells(state: VersionStatus) -> tuple[str, str, str, str]:
    report = state.accuracy
    if report.verdict is not LabelVerdict.OK:
        return "labels", str(report.labels), f">= {report.min_labels}", report.verdict.value
    if report.accuracy is not None:
        return "accuracy", f"{report.accuracy:.3f}", f"{report.labels} labels", "ok"
    return "MAE", f"{report.mae:.3f}", f"{report.labels} labels", "ok"


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (1 << 62, version)


def render_cycles(model: str, cycles: list[Cycle]) -> Group:
    """The model's retraining cycles from the registry, newest first, with every step."""
    if not cycles:
        return Group(Text(f"{model}: no retraining cycle yet"))
    parts: list = [Text(f"{model}: {len(cycles)} retraining cycles (registry tags rayship.retrain.<id>)")]
    for cycle in reversed(cycles[-MAX_CYCLES:]):
        outcome = cycle.outcome or cycle.stage
        table = Table("time (UTC)", "step", "detail", title=f"{cycle.id}: {outcome}", title_justify="left")
        for step in cycle.steps:
            table.add_row(time.strftime("%H:%M:%S", time.gmtime(step.at_s)), step.step, step.detail)
        parts.append(table)
    return Group(*parts)
