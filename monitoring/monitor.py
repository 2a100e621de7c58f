"""The monitor's state, without Ray: replicas' cumulative sketches in, per-version sliding windows, drift out.

Every version replica pushes its cumulative `SketchCounts` every few seconds (`MonitorPush`); the monitor adds the
difference since that replica's previous push into the version's window, so counts from any number of replicas
merge by addition and a lost push loses nothing. Time is always an argument.
"""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import Field

from monitoring.accuracy import AccuracyPoint, AccuracyReport, AccuracyWindow, infer_task, same_value
from monitoring.binning import Binner
from monitoring.contract import Strict
from monitoring.drift import DriftReport, score_window
from monitoring.labels import JoinResult, JoinStore, LabelItem, PredictionRecord
from monitoring.profile import CategoricalFeature, ReferenceProfile
from monitoring.sketch import CLASSES, FEATURES, SCORES, SketchCounts
from monitoring.spec import MonitorSpec, Task, default_spec
from monitoring.windows import SlidingWindow

# A version nobody pushed for this long after its window emptied is forgotten (its app was removed).
FORGET_AFTER_S = 60.0


class MonitorPush(Strict):
    """One version replica's report to the monitor."""

    model: str = Field(description="Registered model name.")
    version: str = Field(description="Version number as a string.")
    replica: str = Field(description="Serve replica id (unique per replica process).")
    replica_started_at: float = Field(description="When the replica started, Unix seconds.")
    profile_digest: str | None = Field(description="sha256 of the replica's profile JSON; null: no profile.")
    profile: ReferenceProfile | None = Field(None, description="The profile itself, sent when the monitor asks.")
    spec: MonitorSpec | None = Field(description="The model's spec as stored in the registry; null: defaults.")
    counts: SketchCounts | None = Field(description="Cumulative counts since the replica started; null: no profile.")


class PushReply(Strict):
    """What the monitor answers a push."""

    need_profile: bool = Field(description="Send the profile with the next push: the monitor does not have it.")


class VersionStatus(Strict):
    """One version as the monitor sees it."""

    version: str = Field(description="Version number as a string.")
    replicas: int = Field(description="Replicas that pushed within the window.")
    last_push_at: float | None = Field(description="Newest push, Unix seconds; null: known from labels only.")
    rows_seen: int = Field(description="Rows counted since the monitor started.")
    window_start_s: float | None = Field(description="Start of the oldest bucket in the window, Unix seconds.")
    drift: DriftReport = Field(description="The window scored against the reference profile.")
    predicted_classes: dict[str, int] | None = Field(
        description="Predicted rows per class (str of the label, then 'other') since the monitor started, from the "
        "replicas' sketches; null without a profile with classes. Rollouts compare two versions' windows of it."
    )
    accuracy: AccuracyReport | None = Field(description="Live accuracy over the label window; null before a label.")
    labels_total: int = Field(description="Labelled rows joined since the monitor started.")
    correct_total: int = Field(description="Of those, rows whose prediction equalled the label (classification).")


class LabelTotals(Strict):
    """Feedback items of one model since the monitor started, by outcome."""

    accepted: int = Field(0, description="Items joined with their prediction.")
    unknown: int = Field(0, description="Items naming a request id the store never held.")
    expired: int = Field(0, description="Items whose prediction waited past the TTL or was dropped for size.")
    duplicate: int = Field(0, description="Items for a prediction already labelled.")
    mismatched: int = Field(0, description="Items whose label list length differs from the prediction's rows.")
    pending: int = Field(0, description="Predictions waiting for a label now.")


class ModelStatus(Strict):
    """`GET /-/rayship/monitoring?model=M`: every monitored version of one model."""

    model: str = Field(description="Registered model name.")
    collected_at: float = Field(description="When this was computed, Unix seconds.")
    spec: MonitorSpec = Field(description="The spec the windows are judged by.")
    spec_source: str = Field(description="'registry' (stored by `monitoring apply`) or 'default'.")
    versions: dict[str, VersionStatus] = Field(description="By version number.")
    labels: LabelTotals = Field(description="Feedback received for the model, by outcome.")


class DistributionDetail(Strict):
    """One distribution of a version, reference against the drift window, bin for bin."""

    name: str = Field(description="Feature name, or 'predictions (classes)' / 'predictions (scores)'.")
    bins: list[str] = Field(description="One label per bin, e.g. '[4.3, 4.8)', 'setosa', 'other'.")
    reference: list[int] = Field(description="Reference rows per bin.")
    live: list[int] = Field(description="Rows per bin in the drift window.")


class VersionDetail(Strict):
    """`GET /-/rayship/monitoring/detail?model=M`, per version: what the report plots."""

    version: str = Field(description="Version number as a string.")
    distributions: list[DistributionDetail] = Field(description="Features in profile order, then predictions.")
    accuracy_series: list[AccuracyPoint] = Field(description="The label window bucket by bucket, oldest first.")


def profile_digest(profile: ReferenceProfile) -> str:
    return hashlib.sha256(profile.to_json().encode()).hexdigest()


class _Version:
    def __init__(self, spec: MonitorSpec, now_s: float) -> None:
        self.profile: ReferenceProfile | None = None
        self.digest: str | None = None
        self.window = _window(spec)
        self.last: dict[str, SketchCounts] = {}
        self.last_push: dict[str, float] = {}
        self.seen_at = now_s
        self.rows_seen = 0
        self.classes: np.ndarray | None = None  # cumulative predicted rows per class, from the sketches
        self.accuracy: AccuracyWindow | None = None
        self.labels_total = self.correct_total = 0

    def task(self, spec: MonitorSpec, predictions: list) -> Task:
        if spec.task is not None:
            return spec.task
        if self.profile is not None and self.profile.predictions is not None:
            return "classification" if self.profile.predictions.classes is not None else "regression"
        return infer_task(predictions) or "classification"


class Monitor:
    """Windows per (model, version); the spec per model is the one its replicas last reported."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self._versions: dict[tuple[str, str], _Version] = {}
        self._specs: dict[str, MonitorSpec] = {}
        self._store = JoinStore()
        self._label_totals: dict[str, LabelTotals] = {}

    def ingest(self, push: MonitorPush, now_s: float) -> PushReply:
        self._update_spec(push)
        state = self._version(push.model, push.version, now_s)
        state.seen_at = now_s
        fresh = push.profile is not None and push.profile_digest == profile_digest(push.profile)
        if fresh and state.digest != push.profile_digest:
            state.profile, state.digest = push.profile, push.profile_digest
            state.window.clear()
        state.last_push[push.replica] = now_s
        if push.counts is not None and state.digest == push.profile_digest:
            self._add(state, push, now_s)
        return PushReply(need_profile=push.profile_digest is not None and state.digest != push.profile_digest)

    def record(self, records: list[PredictionRecord], now_s: float) -> None:
        """Predictions the gateway served, kept until their labels arrive (bounded by each model's spec)."""
        self._store.record(
            records,
            now_s,
            ttl_s=lambda model: self.spec_of(model).labels.ttl_s,
            max_pending=lambda model: self.spec_of(model).labels.max_pending,
        )

    def feedback(self, model: str, items: list[LabelItem], now_s: float) -> JoinResult:
        """Join labels with their predictions and count each joined pair into its version's accuracy window."""
        spec = self.spec_of(model)
        result = self._store.join(model, items, now_s, spec.labels.ttl_s)
        for joined in result.joined:
            state = self._version(model, joined.version, now_s)
            state.seen_at = now_s
            if state.accuracy is None:
                state.accuracy = AccuracyWindow.from_spec(spec.labels, state.task(spec, joined.predictions))
            state.accuracy.add(joined, now_s)
            state.labels_total += len(joined.labels)
            state.correct_total += sum(map(same_value, joined.predictions, joined.labels))
        totals = self._label_totals.get(model, LabelTotals())
        self._label_totals[model] = totals.model_copy(
            update={
                "accepted": totals.accepted + result.accepted,
                "unknown": totals.unknown + result.unknown,
                "expired": totals.expired + result.expired,
                "duplicate": totals.duplicate + result.duplicate,
                "mismatched": totals.mismatched + len(result.mismatched),
            }
        )
        return result

    def models(self) -> list[str]:
        return sorted({model for model, _ in self._versions})

    def status(self, model: str, now_s: float) -> ModelStatus:
        self._forget_idle(now_s)
        spec = self.spec_of(model)
        versions = {
            version: self._version_status(version, state, spec, now_s)
            for (name, version), state in sorted(self._versions.items())
            if name == model
        }
        totals = self._label_totals.get(model, LabelTotals())
        return ModelStatus(
            model=model,
            collected_at=now_s,
            spec=spec,
            spec_source="registry" if model in self._specs else "default",
            versions=versions,
            labels=totals.model_copy(update={"pending": self._store.pending_count(model)}),
        )

    def detail(self, model: str, now_s: float) -> dict[str, VersionDetail]:
        """Reference and live counts per bin, and accuracy over time, of every version of `model`."""
        details = {}
        for (name, version), state in sorted(self._versions.items()):
            if name != model:
                continue
            window = state.window.snapshot(now_s)
            distributions = distributions_of(state.profile, window.counts) if state.profile is not None else []
            series = state.accuracy.series(now_s) if state.accuracy is not None else []
            details[version] = VersionDetail(version=version, distributions=distributions, accuracy_series=series)
        return details

    def spec_of(self, model: str) -> MonitorSpec:
        return self._specs.get(model) or default_spec(model)

    def _update_spec(self, push: MonitorPush) -> MonitorSpec:
        spec = push.spec
        if spec is None or spec.model != push.model:
            spec = self.spec_of(push.model)
        elif self._specs.get(push.model) != spec:
            self._specs[push.model] = spec
            for (model, _), state in self._versions.items():
                if model == push.model:  # new window bounds: start again rather than mix two sizes
                    state.window = _window(spec)
                    state.accuracy = None
        return spec

    def _version(self, model: str, version: str, now_s: float) -> _Version:
        key = (model, version)
        if key not in self._versions:
            self._versions[key] = _Version(self.spec_of(model), now_s)
        return self._versions[key]

    def _add(self, state: _Version, push: MonitorPush, now_s: float) -> None:
        counts, previous = push.counts, state.last.get(push.replica)
        state.last[push.replica] = counts
        if previous is None and push.replica_started_at < self.started_at:
            return  # a replica older than this monitor: its totals so far are history, not this window's traffic
        delta = _difference(counts, previous)
        if delta.rows:
            vectors = delta.vectors()
            state.window.add(now_s, delta.rows, vectors)
            state.rows_seen += delta.rows
            if CLASSES in vectors:
                state.classes = vectors[CLASSES] if state.classes is None else state.classes + vectors[CLASSES]

    def _version_status(self, version: str, state: _Version, spec: MonitorSpec, now_s: float) -> VersionStatus:
        window = state.window.snapshot(now_s)
        live = [replica for replica, at in state.last_push.items() if now_s - at <= spec.window.seconds]
        return VersionStatus(
            version=version,
            replicas=len(live),
            last_push_at=max(state.last_push.values(), default=None),
            rows_seen=state.rows_seen,
            window_start_s=window.start_s,
            drift=score_window(state.profile, window.counts, window.rows, spec),
            predicted_classes=_class_totals(state),
            accuracy=state.accuracy.report(now_s, spec.labels.min_labels) if state.accuracy is not None else None,
            labels_total=state.labels_total,
            correct_total=state.correct_total,
        )

    def _forget_idle(self, now_s: float) -> None:
        for key, state in list(self._versions.items()):
            spec = self.spec_of(key[0])
            horizon = max(spec.window.seconds, spec.labels.window.seconds) + FORGET_AFTER_S
            if now_s - state.seen_at > horizon:
                del self._versions[key]


def _window(spec: MonitorSpec) -> SlidingWindow:
    return SlidingWindow(spec.window.bucket_s, spec.window.seconds, spec.window.rows)


def _difference(counts: SketchCounts, previous: SketchCounts | None) -> SketchCounts:
    """What a replica counted since its previous push (everything, if it restarted or never pushed)."""
    if previous is None or counts.rows < previous.rows:
        return counts
    before, now = previous.vectors(), counts.vectors()
    vectors = {key: now[key] - before[key] if key in before else now[key] for key in now}
    return SketchCounts(
        rows=counts.rows - previous.rows,
        features=vectors[FEATURES].tolist(),
        classes=_list(vectors.get(CLASSES)),
        scores=_list(vectors.get(SCORES)),
    )


def distributions_of(profile: ReferenceProfile, live: dict[str, np.ndarray]) -> list[DistributionDetail]:
    """Each feature's and the predictions' bins, labelled, with reference and live counts (zeros: no traffic)."""
    binner = Binner(profile)
    features = binner.split_features(live[FEATURES]) if FEATURES in live else [None] * len(profile.features)
    out = []
    for feature, counts in zip(profile.features, features, strict=True):
        labels = (
            [*feature.categories, "other"] if isinstance(feature, CategoricalFeature) else _edge_labels(feature.edges)
        )
        out.append(_distribution(feature.name, labels, feature.counts, counts))
    predictions = profile.predictions
    if predictions is not None and predictions.class_counts is not None:
        labels = [str(label) for label in predictions.classes or []] + ["other"]
        out.append(_distribution("predictions (classes)", labels, predictions.class_counts, live.get(CLASSES)))
    if predictions is not None and predictions.score_counts is not None and predictions.score_edges is not None:
        labels = _edge_labels(predictions.score_edges)
        out.append(
            _distribution(f"predictions ({predictions.score})", labels, predictions.score_counts, live.get(SCORES))
        )
    return out


def _distribution(name: str, bins: list[str], reference: list[int], live: np.ndarray | None) -> DistributionDetail:
    counts = [0] * len(reference) if live is None else [int(count) for count in live]
    return DistributionDetail(name=name, bins=bins, reference=list(reference), live=counts)


def _edge_labels(edges: list[float]) -> list[str]:
    if len(edges) == 1:  # a constant reference column: at or below it, above it
        return [f"<= {edges[0]:.3g}", f"> {edges[0]:.3g}"]
    inner = [f"[{low:.3g}, {high:.3g})" for low, high in zip(edges, edges[1:], strict=False)]
    if inner:
        inner[-1] = inner[-1][:-1] + "]"
    return [f"< {edges[0]:.3g}", *inner, f"> {edges[-1]:.3g}"]


def _class_totals(state: _Version) -> dict[str, int] | None:
    predictions = state.profile.predictions if state.profile is not None else None
    if state.classes is None or predictions is None or predictions.classes is None:
        return None
    names = [str(label) for label in predictions.classes] + ["other"]
    return dict(zip(names, state.classes.tolist(), strict=True))


def _list(vector: np.ndarray | None) -> list[int] | None:
    return None if vector is None else vector.tolist()
