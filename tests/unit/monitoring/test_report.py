"""monitoring.report: the Markdown's lines per version (verdicts, accuracy, totals) and a real PNG, from a real
monitor fed pushes and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import FeatureDrift, Verdict
from monitoring.labels import LabelItem, PredictionRecord
from monitoring.monitor import Monitor, MonitorPush, profile_digest
from monitoring.profile import build_profile
from monitoring.report import (
    MAX_FEATURE_PANELS,
    MAX_PLOTTED_VERSIONS,
    ReportFiles,
    feature_text,
    plot_panels,
    render_markdown,
    report_stem,
    write_report,
)
from monitoring.sketch import Sketch
from monitoring.spec import LabelSpec, MonitorSpec, WindowSpec

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = 1_796_182_500.0  # 2026-12-02 03:35:00 UTC
RNG = np.random.default_rng(11)
REFERENCE = pd.DataFrame(
    {
        "a": RNG.normal(0, 1, 2000),
        "b": RNG.normal(10, 2, 2000),
        "colour": RNG.choice(["red", "green", "blue"], 2000),
    }
)
PROFILE = build_profile(REFERENCE, source="t", predictions=(REFERENCE["a"] > 0).to_numpy().astype(int), classes=[0, 1])
SPEC = MonitorSpec(
    model="iris",
    min_rows=100,
    window=WindowSpec(rows=1000, seconds=60, bucket_s=5),
    labels=LabelSpec(window=WindowSpec(rows=100, seconds=600, bucket_s=60), min_labels=10),
)


def rows(n: int, shift_a: float = 0.0) -> np.ndarray:
    colours = RNG.choice(["red", "green", "blue"], n)
    return np.column_stack([RNG.normal(shift_a, 1, n), RNG.normal(10, 2, n), colours]).astype(object)


def observe(sketch: Sketch, values: np.ndarray) -> None:
    sketch.observe(values, (values[:, 0].astype(float) > 0).astype(int), None)


def push(sketch: Sketch | None, version: str, replica: str = "r1", with_profile: bool = False, **kw) -> MonitorPush:
    profile = kw.get("profile", PROFILE)
    return MonitorPush(
        model=kw.get("model", "iris"),
        version=version,
        replica=replica,
        replica_started_at=NOW - 900,
        profile_digest=profile_digest(profile) if sketch is not None else None,
        profile=profile if with_profile else None,
        spec=kw.get("spec", SPEC),
        counts=sketch.snapshot() if sketch is not None else None,
    )


def label(monitor: Monitor, version: str, pairs: list[tuple[int, int]], at: float, model: str = "iris") -> None:
    """Serve one-row predictions at `at - 30` and label them at `at`: (prediction, label) per request."""
    ids = [f"{version}-{at}-{i}" for i in range(len(pairs))]
    monitor.record(
        [
            PredictionRecord(request_id=rid, model=model, version=version, predictions=[p], served_at_s=at - 30)
            for rid, (p, _) in zip(ids, pairs, strict=True)
        ],
        at - 30,
    )
    monitor.feedback(model, [LabelItem(request_id=rid, label=y) for rid, (_, y) in zip(ids, pairs, strict=True)], at)


def iris_monitor() -> Monitor:
    """Version 1 drifted on 'a' with 15 of 20 labels right, 2 ok (two replicas, 4 labels), 3 without a profile,
    4 with too few rows; and one unknown, duplicate, mismatched and expired label, three predictions pending."""
    monitor = Monitor(started_at=NOW - 1000)
    sketches = {version: Sketch(PROFILE) for version in ("1", "2", "4")}
    second = Sketch(PROFILE)
    for version, sketch in sketches.items():
        monitor.ingest(push(sketch, version, with_profile=True), now_s=NOW - 400)
    monitor.ingest(push(second, "2", replica="r2"), now_s=NOW - 400)
    monitor.ingest(push(None, "3"), now_s=NOW - 400)

    label(monitor, "1", [(1, 1)] * 8 + [(0, 1)] * 2, at=NOW - 300)  # 8 of 10 right
    label(monitor, "1", [(0, 0)] * 7 + [(1, 0)] * 3, at=NOW - 120)  # 7 of 10 right
    label(monitor, "2", [(1, 1)] * 3 + [(0, 1)], at=NOW - 100)
    monitor.record(
        [
            PredictionRecord(request_id="late", model="iris", version="1", predictions=[1], served_at_s=NOW - 9000),
            PredictionRecord(request_id="two", model="iris", version="1", predictions=[1], served_at_s=NOW - 50),
            PredictionRecord(request_id="p1", model="iris", version="2", predictions=[0], served_at_s=NOW - 50),
            PredictionRecord(request_id="p2", model="iris", version="2", predictions=[0], served_at_s=NOW - 50),
        ],
        NOW - 50,
    )
    monitor.feedback(
        "iris",
        [
            LabelItem(request_id="nobody", label=1),
            LabelItem(request_id=f"1-{NOW - 300}-0", label=1),  # labelled already
            LabelItem(request_id="two", label=[1, 0]),
            LabelItem(request_id="late", label=1),
        ],
        NOW - 40,
    )

    observe(sketches["1"], rows(400, shift_a=1.5))
    observe(sketches["2"], rows(250))
    observe(second, rows(150))
    observe(sketches["4"], rows(50))
    for version, sketch in sketches.items():
        monitor.ingest(push(sketch, version), now_s=NOW - 10)
    monitor.ingest(push(second, "2", replica="r2"), now_s=NOW - 10)
    monitor.ingest(push(None, "3"), now_s=NOW - 10)
    return monitor


@pytest.fixture(scope="module")
def iris():
    monitor = iris_monitor()
    return monitor.status("iris", NOW), monitor.detail("iris", NOW)


@pytest.fixture(scope="module")
def written(iris, tmp_path_factory) -> ReportFiles:
    status, details = iris
    return write_report(status, details, tmp_path_factory.mktemp("reports") / "nested", NOW)


def section(markdown: str, heading: str) -> list[str]:
    """The lines under `## heading` up to the next heading, blank lines left out."""
    lines = markdown.split("\n")
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [line for line in lines[start:end] if line]


def test_the_files_are_named_by_model_and_utc_time_beside_each_other(written: ReportFiles) -> None:
    assert written.markdown.name == "monitoring-iris-20261202T033500Z.md"
    assert written.plot == written.markdown.with_suffix(".png")
    assert written.markdown.parent.name == "nested"  # created
    assert report_stem("my model/x", NOW) == "monitoring-my_model_x-20261202T033500Z"


def test_the_png_is_a_real_image_of_bounded_size(written: ReportFiles) -> None:
    data = written.plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    # Three versions of two bar charts each, then the accuracy chart: 2 x 3.6 in by 4 x 3.3 in at 80 dpi.
    assert (width, height) == (576, 1056)
    assert width <= 3.6 * MAX_FEATURE_PANELS * 80 and height <= 3.3 * (MAX_PLOTTED_VERSIONS + 1) * 80
    assert not list(written.plot.parent.glob(".*tmp*"))  # no temporary left behind


def test_the_same_inputs_write_the_same_bytes(iris, tmp_path) -> None:
    status, details = iris
    one = write_report(status, details, tmp_path / "one", NOW)
    two = write_report(status, details, tmp_path / "two", NOW)

    assert one.markdown.read_bytes() == two.markdown.read_bytes()
    assert one.plot.read_bytes() == two.plot.read_bytes()


def test_the_title_and_the_spec_line(written: ReportFiles) -> None:
    lines = written.markdown.read_text().split("\n")

    assert lines[0] == "# Monitoring report: iris, 2026-12-02 03:35:00 UTC"
    assert lines[2] == "Monitor status collected at 2026-12-02 03:35:00 UTC; 4 versions monitored."
    assert lines[4] == (
        "Spec (registry): drift window 1000 rows / 60 s, scored from 100 rows; feature drift psi > 0.25 "
        "(categorical: chi-square p < 0.01); prediction drift js > 0.2; label window 100 rows / 600 s, accuracy "
        "from 10 labels; task inferred."
    )


def test_a_drifted_version_lists_its_features_predictions_and_accuracy(iris, written: ReportFiles) -> None:
    status, _ = iris
    drift = status.versions["1"].drift
    by_name = {feature.feature: feature for feature in drift.features}
    assert drift.verdict is Verdict.DRIFT and [f.feature for f in drift.features][0] == "a"

    assert section(written.markdown.read_text(), "Version 1") == [
        "| what | value |",
        "|---|---|",
        "| verdict | drift |",
        "| rows in window | 400 (scored from 100) |",
        "| replicas | 1 |",
        *(f"| feature {f.feature} | {feature_text(f)} |" for f in drift.features),
        f"| predictions (classes) | DRIFT: js {drift.prediction.score:.3f} > 0.2 |",
        "| live accuracy | 0.750: 15 correct of 20 labels in window (min 10) |",
        "| per-class recall | 1: 0.800, 0: 0.700 |",
        "| labels since monitor start | 15 correct of 20 |",
    ]
    assert feature_text(by_name["a"]) == f"DRIFT: psi {by_name['a'].score:.3f} > 0.25"
    assert feature_text(by_name["b"]) == f"ok: psi {by_name['b'].score:.3f} <= 0.25"
    assert feature_text(by_name["colour"]) == f"ok: chi-square p {by_name['colour'].score:.3g} >= 0.01"


def test_an_ok_version_with_too_few_labels_says_so(written: ReportFiles) -> None:
    lines = section(written.markdown.read_text(), "Version 2")

    assert lines[2:5] == ["| verdict | ok |", "| rows in window | 400 (scored from 100) |", "| replicas | 2 |"]
    assert lines[-2:] == [
        "| live accuracy | insufficient labels (4 of 10 labels in window) |",
        "| labels since monitor start | 3 correct of 4 |",
    ]
    assert all("DRIFT" not in line for line in lines)


def test_a_version_without_profile_and_one_with_too_few_rows(written: ReportFiles) -> None:
    markdown = written.markdown.read_text()

    assert section(markdown, "Version 3") == [
        "| what | value |",
        "|---|---|",
        "| verdict | no reference profile |",
        "| rows in window | 0 (scored from 100) |",
        "| replicas | 1 |",
        "| live accuracy | no labels yet |",
        "| labels since monitor start | 0 |",
    ]
    assert section(markdown, "Version 4")[2:4] == [
        "| verdict | insufficient data (50 of 100 rows) |",
        "| rows in window | 50 (scored from 100) |",
    ]


def test_the_label_totals_and_the_embedded_figure(written: ReportFiles) -> None:
    markdown = written.markdown.read_text()

    assert section(markdown, "Labels of iris") == [
        "| accepted | unknown | expired | duplicate | mismatched | pending |",
        "|---:|---:|---:|---:|---:|---:|",
        "| 24 | 1 | 1 | 1 | 1 | 3 |",  # the mismatched one waits on for a right label
    ]
    figure = section(markdown, "Figure")
    assert figure[-1] == f"![iris: reference against live per bin, accuracy over time]({written.plot.name})"
    assert figure[0].startswith("Reference against live share of rows per bin for versions 1, 2, 4: ")
    assert markdown.index("## Labels of iris") > markdown.index("## Version 4")  # versions first, then the totals


def test_the_figure_plots_drifted_features_else_the_top_one_and_the_predictions(iris) -> None:
    status, details = iris
    panels = {panel.version: [d.name for d in panel.distributions] for panel in plot_panels(status, details)}
    top_of_2 = status.versions["2"].drift.features[0].feature

    assert panels == {
        "1": ["a", "predictions (classes)"],  # the drifted feature, then the drifted predictions
        "2": [top_of_2, "predictions (classes)"],  # nothing drifted
        "4": ["a", "predictions (classes)"],  # unscored: the first feature
    }  # version 3 has no profile, nothing to plot
    series = details["1"].accuracy_series
    assert [(point.labels, point.accuracy) for point in series] == [(10, 0.8), (10, 0.7)]


def test_the_figure_caps_versions_most_drifted_first(iris) -> None:
    status, details = iris
    more = dict(status.versions)
    for version in ("5", "6"):
        more[version] = status.versions["2"].model_copy(update={"version": version})
    wider = status.model_copy(update={"versions": more})
    extra = {**details, "5": details["2"], "6": details["2"]}

    plotted = [panel.version for panel in plot_panels(wider, extra)]

    assert len(plotted) == MAX_PLOTTED_VERSIONS
    assert plotted == ["1", "5", "6"]  # the drifted one, then the newest ok ones; shown in version order
    assert "(the 3 most drifted of 5)" in render_markdown(wider, extra, "x.png", NOW)


def test_many_drifted_features_are_capped_per_version(iris) -> None:
    status, details = iris
    drift = status.versions["1"].drift
    names = [f"f{i}" for i in range(7)]
    features = [
        FeatureDrift(feature=n, kind="numeric", statistic="psi", score=1.0, threshold=0.25, drifted=True, psi=1, js=0.5)
        for n in names
    ]
    template = details["1"].distributions[0]
    distributions = [template.model_copy(update={"name": n}) for n in names] + details["1"].distributions[-1:]
    state = status.versions["1"].model_copy(update={"drift": drift.model_copy(update={"features": features})})
    wide = status.model_copy(update={"versions": {"1": state}})
    panels = plot_panels(wide, {"1": details["1"].model_copy(update={"distributions": distributions})})

    assert [d.name for d in panels[0].distributions] == [*names[: MAX_FEATURE_PANELS - 1], "predictions (classes)"]
    table = render_markdown(wide, {}, "x.png", NOW)
    assert "| more features | 2 not shown, 2 of them drifted |" in table.split("\n")


def test_a_regressor_reports_mae_and_rmse(tmp_path) -> None:
    reference = pd.DataFrame({"price $": RNG.normal(0, 1, 500)})  # a '$' is text in the figure, not mathtext
    profile = build_profile(reference, source="t", predictions=reference["price $"].to_numpy() * 2)
    spec = SPEC.model_copy(update={"model": "house"})
    monitor, sketch = Monitor(started_at=NOW - 1000), Sketch(profile)
    monitor.ingest(push(sketch, "7", model="house", spec=spec, profile=profile, with_profile=True), now_s=NOW - 400)
    ids = [f"h{i}" for i in range(10)]
    monitor.record(
        [
            PredictionRecord(request_id=rid, model="house", version="7", predictions=[1.0], served_at_s=NOW - 200)
            for rid in ids
        ],
        NOW - 200,
    )
    # Errors of 0.5 and -1.5, five each: MAE 1, RMSE sqrt(1.25).
    items = [LabelItem(request_id=rid, label=1.5 if i % 2 else -0.5) for i, rid in enumerate(ids)]
    monitor.feedback("house", items, NOW - 100)
    values = RNG.normal(0, 1, (150, 1))
    sketch.observe(values, values[:, 0] * 2, None)
    monitor.ingest(push(sketch, "7", model="house", spec=spec, profile=profile), now_s=NOW - 10)

    files = write_report(monitor.status("house", NOW), monitor.detail("house", NOW), tmp_path, NOW)

    lines = section(files.markdown.read_text(), "Version 7")
    assert lines[2] == "| verdict | ok |"
    assert lines[5].startswith("| feature price $ | ok: psi ")
    assert lines[-2:] == [
        "| live MAE / RMSE | MAE 1.000, RMSE 1.118 over 10 labels in window (min 10) |",
        "| labels since monitor start | 10 labelled |",
    ]
    assert files.plot.read_bytes().startswith(PNG_SIGNATURE)


def test_a_model_without_versions_still_renders(tmp_path) -> None:
    status = Monitor(started_at=0.0).status("empty", NOW)

    files = write_report(status, {}, tmp_path, NOW)

    markdown = files.markdown.read_text()
    assert "Monitor status collected at 2026-12-02 03:35:00 UTC; 0 versions monitored." in markdown
    assert section(markdown, "Labels of empty")[-1] == "| 0 | 0 | 0 | 0 | 0 | 0 |"
    assert "for versions none:" in markdown
    assert files.plot.read_bytes().startswith(PNG_SIGNATURE)
