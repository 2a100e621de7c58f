"""Names of the tags rayship writes on model versions: the one place both writers and readers take them from."""

from __future__ import annotations

PREFIX = "rayship."
MANIFEST = "rayship.manifest"
DATASET_FINGERPRINT = "rayship.dataset_sha256"
SWEEP_ID = "rayship.sweep_id"
TRIAL_ID = "rayship.trial_id"
RUN_ID = "rayship.run_id"
LOGGED_MODEL_ID = "rayship.logged_model_id"
GIT_COMMIT = "rayship.git_commit"
FLAVOR = "rayship.flavor"
METRIC_PREFIX = "rayship.metric."
GATE = "rayship.gate"
GATE_REASONS = "rayship.gate_reasons"
ARCHIVED = "rayship.archived"
# Who forced a version past the champion gate (`promote --force`, `rollout ... --force`), for what, when and why;
# each force overwrites the previous record.
FORCED_BY = "rayship.forced_by"
FORCED_FOR = "rayship.forced_for"
FORCED_AT = "rayship.forced_at"
FORCE_REASON = "rayship.force_reason"
# What a rollout decided about a version, which rollout, and the role the version played in it.
ROLLOUT_VERDICT = "rayship.rollout.verdict"
ROLLOUT_ID = "rayship.rollout.id"
ROLLOUT_ROLE = "rayship.rollout.role"
# On the registered model, not a version: the monitoring spec `python -m monitoring apply` stored (JSON).
MONITORING_SPEC = "rayship.monitoring_spec"
# On the registered model: one retraining cycle per tag, `rayship.retrain.<cycle id>` (JSON, monitoring/retrain/).
RETRAIN_CYCLE_PREFIX = "rayship.retrain."
# On a version a retraining registered: the id of that cycle.
RETRAINED_BY = "rayship.retrained_by"


def metric_tag(metric: str) -> str:
    """Tag key of one holdout metric, e.g. `rayship.metric.accuracy`."""
    return f"{METRIC_PREFIX}{metric}"


def metrics_from_tags(tags: dict[str, str]) -> dict[str, float]:
    """The holdout metrics recorded at registration, read back from a version's tags."""
    metrics = {}
    for key, value in tags.items():
        if key.startswith(METRIC_PREFIX):
            try:
                metrics[key.removeprefix(METRIC_PREFIX)] = float(value)
            except ValueError:
                continue  # a hand-edited tag is shown as-is elsewhere, not a reason to fail reading the card
    return metrics
