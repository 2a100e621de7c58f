"""The monitor without Ray: replicas' cumulative pushes merged by difference, windows, specs, drift verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import Verdict, score_window
from monitoring.labels import LabelItem, PredictionRecord
from monitoring.monitor import Monitor, MonitorPush, profile_digest
from monitoring.profile import build_profile
from monitoring.sketch import Sketch
from monitoring.spec import MonitorSpec, WindowSpec
from monitoring.stats import js_distance, psi

pytestmark = pytest.mark.unit

RNG = np.random.default_rng(7)
REFERENCE = pd.DataFrame({"a": RNG.normal(0, 1, 2000), "b": RNG.normal(10, 2, 2000)})
PROFILE = build_profile(REFERENCE, source="t", predictions=(REFERENCE["a"] > 0).to_numpy().astype(int), classes=[0, 1])
SPEC = MonitorSpec(model="m", min_rows=100, window=WindowSpec(rows=500, seconds=60, bucket_s=5))


def rows(n: int, shift_a: float = 0.0) -> np.ndarray:
    return np.column_stack([RNG.normal(shift_a, 1, n), RNG.normal(10, 2, n)])


def observe(sketch: Sketch, values: np.ndarray) -> None:
    sketch.observe(values, (values[:, 0] > 0).astype(int), None)


def push(sketch: Sketch | None, replica: str = "r1", started: float = 1.0, with_profile: bool = False, **kw):
    return MonitorPush(
        model=kw.get("model", "m"),
        version=kw.get("version", "1"),
        replica=replica,
        replica_started_at=started,
        profile_digest=profile_digest(PROFILE) if sketch is not None else None,
        profile=PROFILE if with_profile else None,
        spec=kw.get("spec", SPEC),
        counts=sketch.snapshot() if sketch is not None else None,
    )


def test_the_monitor_asks_for_the_profile_once_and_then_counts_the_replica_in_full() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    observe(sketch, rows(150))

    assert monitor.ingest(push(sketch), now_s=10.0).need_profile is True
    assert monitor.ingest(push(sketch, with_profile=True), now_s=11.0).need_profile is False
    observe(sketch, rows(50))
    monitor.ingest(push(sketch), now_s=12.0)

    version = monitor.status("m", now_s=12.0).versions["1"]
    assert version.rows_seen == 200 and version.drift.rows == 200 and version.replicas == 1


def test_two_replicas_merge_by_addition_and_a_repeated_push_adds_nothing() -> None:
    monitor, one, two = Monitor(started_at=0.0), Sketch(PROFILE), Sketch(PROFILE)
    monitor.ingest(push(one, with_profile=True), now_s=1.0)
    observe(one, rows(120))
    observe(two, rows(80))
    for _ in range(2):
        monitor.ingest(push(one), now_s=2.0)
        monitor.ingest(push(two, replica="r2"), now_s=2.0)

    status = monitor.status("m", now_s=3.0).versions["1"]
    assert status.drift.rows == 200 and status.replicas == 2


def test_a_replica_older_than_the_monitor_contributes_only_what_it_counts_afterwards() -> None:
    monitor, sketch = Monitor(started_at=100.0), Sketch(PROFILE)
    observe(sketch, rows(300))
    monitor.ingest(push(sketch, started=50.0, with_profile=True), now_s=101.0)  # the monitor restarted: history
    observe(sketch, rows(40))
    monitor.ingest(push(sketch, started=50.0), now_s=102.0)

    assert monitor.status("m", now_s=102.0).versions["1"].drift.rows == 40


def test_shifted_traffic_on_one_feature_drifts_that_feature_only() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(400, shift_a=1.5))
    monitor.ingest(push(sketch), now_s=2.0)

    drift = monitor.status("m", now_s=2.0).versions["1"].drift
    by_name = {feature.feature: feature for feature in drift.features}
    assert drift.verdict is Verdict.DRIFT
    assert by_name["a"].drifted and by_name["a"].score > SPEC.feature_drift.threshold
    assert not by_name["b"].drifted and by_name["b"].score < SPEC.feature_drift.threshold
    assert drift.features[0].feature == "a"  # the most drifted first
    assert drift.prediction.over == "classes" and drift.prediction.drifted  # shifting 'a' moves the predictions


def test_undrifted_traffic_stays_ok() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(400))
    monitor.ingest(push(sketch), now_s=2.0)

    drift = monitor.status("m", now_s=2.0).versions["1"].drift
    assert drift.verdict is Verdict.OK and not any(feature.drifted for feature in drift.features)


def test_fewer_rows_than_the_minimum_is_insufficient_data_never_drift() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(99, shift_a=5.0))
    monitor.ingest(push(sketch), now_s=2.0)

    drift = monitor.status("m", now_s=2.0).versions["1"].drift
    assert drift.verdict is Verdict.INSUFFICIENT and drift.rows == 99 and drift.features == []


def test_the_window_forgets_traffic_older_than_its_seconds() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(300, shift_a=3.0))
    monitor.ingest(push(sketch), now_s=2.0)
    observe(sketch, rows(150))
    monitor.ingest(push(sketch), now_s=70.0)  # the drifted rows are now older than the 60 s window

    drift = monitor.status("m", now_s=70.0).versions["1"].drift
    assert drift.rows == 150 and drift.verdict is Verdict.OK


def test_a_version_without_profile_is_listed_as_such() -> None:
    monitor = Monitor(started_at=0.0)
    monitor.ingest(push(None), now_s=1.0)

    assert monitor.status("m", now_s=1.0).versions["1"].drift.verdict is Verdict.NO_PROFILE


def test_without_a_stored_spec_the_defaults_judge_and_say_so() -> None:
    monitor = Monitor(started_at=0.0)
    monitor.ingest(push(Sketch(PROFILE), with_profile=True, spec=None), now_s=1.0)

    status = monitor.status("m", now_s=1.0)
    assert status.spec_source == "default" and status.spec == MonitorSpec(model="m")


def test_a_new_spec_restarts_the_windows_with_its_bounds() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(150))
    monitor.ingest(push(sketch), now_s=2.0)
    wider = SPEC.model_copy(update={"min_rows": 10})
    observe(sketch, rows(20))
    monitor.ingest(push(sketch, spec=wider), now_s=3.0)

    status = monitor.status("m", now_s=3.0)
    assert status.spec == wider and status.spec_source == "registry"
    assert status.versions["1"].drift.rows == 20


def test_versions_nobody_pushes_for_are_forgotten_after_their_longest_window() -> None:
    monitor = Monitor(started_at=0.0)
    monitor.ingest(push(Sketch(PROFILE), with_profile=True), now_s=1.0)
    horizon = SPEC.labels.window.seconds + 60  # the label window (an hour) outlasts the drift window

    assert "1" in monitor.status("m", now_s=horizon).versions
    assert monitor.status("m", now_s=horizon + 2).versions == {}


def test_score_window_matches_the_statistics_of_the_raw_counts() -> None:
    sketch = Sketch(PROFILE)
    observe(sketch, rows(500, shift_a=0.5))
    counts = sketch.snapshot()

    report = score_window(PROFILE, counts.vectors(), counts.rows, SPEC)

    live_a = np.asarray(counts.features[: PROFILE.features[0].bins])
    a = next(feature for feature in report.features if feature.feature == "a")
    assert a.psi == pytest.approx(psi(PROFILE.features[0].counts, live_a))
    assert a.js == pytest.approx(js_distance(PROFILE.features[0].counts, live_a))


def test_detail_lays_reference_and_live_bins_side_by_side_and_accuracy_per_bucket() -> None:
    monitor, sketch = Monitor(started_at=0.0), Sketch(PROFILE)
    monitor.ingest(push(sketch, with_profile=True), now_s=1.0)
    observe(sketch, rows(200))
    monitor.ingest(push(sketch), now_s=2.0)
    monitor.record([PredictionRecord(request_id="r", model="m", version="1", predictions=[1], served_at_s=2.0)], 2.0)
    monitor.feedback("m", [LabelItem(request_id="r", label=1)], now_s=3.0)

    detail = monitor.detail("m", now_s=4.0)["1"]

    a = detail.distributions[0]
    assert a.name == "a" and len(a.bins) == len(a.reference) == len(a.live) == PROFILE.features[0].bins
    assert a.bins[0].startswith("< ") and a.bins[-1].startswith("> ") and a.bins[-2].endswith("]")
    assert sum(a.reference) == 2000 and sum(a.live) == 200
    assert detail.distributions[-1].name == "predictions (classes)" and detail.distributions[-1].bins == [
        "0",
        "1",
        "other",
    ]
    assert [(point.labels, point.accuracy) for point in detail.accuracy_series] == [(1, 1.0)]
