"""The cluster's monitor: the detached actor `rayship-monitor-<PROTOCOL>` (namespace `serve`) that hosts `Monitor`.

Version replicas create it on their first push (`get_or_create_monitor`), so it starts with the apps of
`configs/serve.yaml` and needs no entry there; Ray restarts it if it dies (windows start again, the replicas'
cumulative counts keep the totals). It exports the drift of every monitored version as Prometheus gauges
through Ray's metrics agent every `EXPORT_INTERVAL_S`: `ray_rayship_feature_drift` (labels `model`, `version`,
`feature`, `statistic`), `ray_rayship_prediction_drift` (`model`, `version`, `statistic`),
`ray_rayship_drift_window_rows` and `ray_rayship_drift_detected` (1 drift, 0 ok, absent while unscored).
The gateway's `GET /-/rayship/monitoring?model=M` reads `status(model)`; gateway replicas send the predictions they
served in batches (`record`) and the labels clients post (`feedback`). Live accuracy is exported as
`ray_rayship_live_accuracy` (classification) or `ray_rayship_live_mae` / `ray_rayship_live_rmse` (regression), with
`ray_rayship_labels_total` (labelled rows per version), `ray_rayship_feedback_items_total` (items per model and
`outcome`) and `ray_rayship_label_delay_s` (histogram).
"""

from __future__ import annotations

import threading
import time

import ray

from monitoring.accuracy import DELAY_BOUNDS_S, LabelVerdict
from monitoring.drift import Verdict
from monitoring.feedback import encode_result
from monitoring.labels import JoinResult, LabelItem, PredictionRecord
from monitoring.monitor import ModelStatus, Monitor, MonitorPush

# The contract between replicas, gateways and the monitor (`MonitorPush`, `PredictionRecord`, `ModelStatus`) is
# part of the actor's name: code that changes it bumps PROTOCOL, so replicas of the new code never push to a
# detached monitor left by the old one, which `get_or_create_monitor` then stops.
PROTOCOL = 2
ACTOR_NAME = f"rayship-monitor-{PROTOCOL}"
FORMER_NAMES = ("rayship-monitor", *(f"rayship-monitor-{n}" for n in range(2, PROTOCOL)))
ACTOR_NAMESPACE = "serve"
EXPORT_INTERVAL_S = 5.0


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=4)
class MonitorActor:
    def __init__(self) -> None:
        self._monitor = Monitor(started_at=time.time())
        self._lock = threading.Lock()  # pushes, status reads and the export thread share the monitor
        self._gauges = _Gauges()
        threading.Thread(target=self._export_forever, name="rayship-monitor-export", daemon=True).start()

    def push(self, push: dict) -> dict:
        parsed = MonitorPush.model_validate(push)
        with self._lock:
            return self._monitor.ingest(parsed, time.time()).model_dump()

    def record(self, records: list[dict]) -> None:
        # Built, not validated: these come from rayship's own gateways (`PredictionLog.drain`), hundreds a second,
        # and validating each cost the monitor more than keeping it.
        parsed = [PredictionRecord.model_construct(**record) for record in records]
        with self._lock:
            self._monitor.record(parsed, time.time())

    def feedback(self, model: str, items: list[dict]) -> dict:
        parsed = [LabelItem.model_validate(item) for item in items]
        with self._lock:
            result = self._monitor.feedback(model, parsed, time.time())
        self._gauges.count_feedback(model, result)
        return encode_result(result)

    def status(self, model: str) -> dict:
        with self._lock:
            return self._monitor.status(model, time.time()).model_dump(mode="json")

    def detail(self, model: str) -> dict:
        with self._lock:
            details = self._monitor.detail(model, time.time())
        return {version: detail.model_dump(mode="json") for version, detail in details.items()}

    def _export_forever(self) -> None:
        while True:
            time.sleep(EXPORT_INTERVAL_S)
            with self._lock:
                statuses = [self._monitor.status(model, time.time()) for model in self._monitor.models()]
            for status in statuses:
                self._gauges.export(status)


class _Gauges:
    def __init__(self) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        labels = ("model", "version")
        self.feature = Gauge(
            "rayship_feature_drift", "Drift of one feature from its reference.", labels + ("feature", "statistic")
        )
        self.prediction = Gauge(
            "rayship_prediction_drift", "Drift of the predictions from the holdout's.", labels + ("statistic",)
        )
        self.rows = Gauge("rayship_drift_window_rows", "Rows in the drift window.", labels)
        self.detected = Gauge("rayship_drift_detected", "1 when the window drifted, 0 when it did not.", labels)
        self.accuracy = Gauge("rayship_live_accuracy", "Accuracy over the label window.", labels)
        self.mae = Gauge("rayship_live_mae", "Mean absolute error over the label window.", labels)
        self.rmse = Gauge("rayship_live_rmse", "Root mean squared error over the label window.", labels)
        self.labels = Counter("rayship_labels", "Labelled rows joined with their prediction.", labels)
        self.items = Counter("rayship_feedback_items", "Feedback items by outcome.", ("model", "outcome"))
        self.delay = Histogram(
            "rayship_label_delay_s", "Seconds from a prediction to its label.", list(DELAY_BOUNDS_S), labels
        )

    def count_feedback(self, model: str, result: JoinResult) -> None:
        outcomes = {
            "accepted": result.accepted,
            "unknown": result.unknown,
            "expired": result.expired,
            "duplicate": result.duplicate,
            "mismatched": len(result.mismatched),
        }
        for outcome, count in outcomes.items():
            if count:
                self.items.inc(count, {"model": model, "outcome": outcome})
        for joined in result.joined:
            tags = {"model": model, "version": joined.version}
            self.labels.inc(len(joined.labels), tags)
            self.delay.observe(joined.delay_s, tags)

    def export(self, status: ModelStatus) -> None:
        for version, state in status.versions.items():
            tags = {"model": status.model, "version": version}
            self.rows.set(state.drift.rows, tags)
            if state.drift.verdict not in (Verdict.OK, Verdict.DRIFT):
                continue
            self.detected.set(1 if state.drift.verdict is Verdict.DRIFT else 0, tags)
            for feature in state.drift.features:
                for statistic in ("psi", "js"):
                    self.feature.set(
                        getattr(feature, statistic), {**tags, "feature": feature.feature, "statistic": statistic}
                    )
            if state.drift.prediction is not None:
                prediction = state.drift.prediction
                self.prediction.set(prediction.score, {**tags, "statistic": prediction.statistic})
        for version, state in status.versions.items():
            accuracy, tags = state.accuracy, {"model": status.model, "version": version}
            if accuracy is None or accuracy.verdict is not LabelVerdict.OK:
                continue
            for gauge, value in (
                (self.accuracy, accuracy.accuracy),
                (self.mae, accuracy.mae),
                (self.rmse, accuracy.rmse),
            ):
                if value is not None:
                    gauge.set(value, tags)


def get_or_create_monitor():
    """Blocking (GCS lookups): call it off the event loop."""
    monitor = MonitorActor.options(
        name=ACTOR_NAME, namespace=ACTOR_NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
    for name in FORMER_NAMES:
        try:
            ray.kill(ray.get_actor(name, namespace=ACTOR_NAMESPACE))
        except ValueError:
            continue  # none of that name: the usual case
    return monitor
