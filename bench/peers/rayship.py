"""rayship's gateway as a benchmarked server: the reference models registered in MLflow and served as one version app
each behind one gateway, on the local cluster in the environment (`eval "$(python -m cluster env)"`), exactly as
`make up` runs it, with the whole cluster pinned to the server core.

Pinning: every thread of every process of the cluster's sessions (Ray's daemons, the dashboard, MLflow, each Serve
replica, HAProxy) is moved to the server core while the benchmark runs, and new processes inherit it from their
raylet; `stop` gives them every core back and puts the cluster's previous Serve applications back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from bench.memory import stack_pids
from bench.peers.server import PeerContext
from bench.reference_models import ReferenceModel
from bench.serve_admin import ServeAdmin, gateway_app, policy_of, version_app
from deployments import app_config
from deployments.traffic_policy import GatewayConfig
from monitoring.profile import PROFILE_FILE, build_profile
from registry.api import PinnedVersion, register

EXPERIMENT = "bench-peers"
PREFIX = "bench-peer-"  # registered model names: bench-peer-rf, bench-peer-xgb


class RayshipGateway:
    name = "rayship"

    def __init__(self, context: PeerContext):
        self._context = context
        self._admin: ServeAdmin | None = None
        self._previous_apps: list[dict] | None = None
        self._pinned = False

    def start(self) -> None:
        self._admin = ServeAdmin()
        self._previous_apps = self._admin.current_apps()
        pinned = {name: register_reference(model) for name, model in self._context.models.items()}
        apps = [version_app(p.name, p.version, p.uri) for p in pinned.values()]
        self._admin.deploy([*apps, gateway_app(policy(list(pinned.values())))])
        self._admin.wait_running([app_config.GATEWAY_APP, *(app["name"] for app in apps)])
        for version in pinned.values():
            self._admin.wait_ready(version.name)
        pin_cluster({self._context.server_cpu})
        self._pinned = True

    def stop(self) -> None:
        if self._pinned:
            pin_cluster(set(range(os.cpu_count() or 1)))
        if self._admin is not None and self._previous_apps is not None:
            self._admin.deploy(self._previous_apps)  # none before: none after

    def infer_url(self, model_name: str) -> str:
        assert self._admin is not None, "start() first"
        return f"{self._admin.settings.serve_url}/v2/models/{PREFIX}{model_name}/infer"


def register_reference(model: ReferenceModel, prefix: str = PREFIX) -> PinnedVersion:
    """Log the fitted estimator with its flavour (named columns, like a sweep's winner) and register it as
    `<prefix><model>`, with its reference profile (the data set it was fitted on), so it is monitored as a sweep's
    winner is."""
    data = load_breast_cancer(as_frame=True).data
    columns = list(data.columns)
    example = pd.DataFrame([model.row], columns=columns)
    mlflow.set_experiment(EXPERIMENT)
    flavor = mlflow.xgboost if type(model.estimator).__module__.startswith("xgboost") else mlflow.sklearn
    options = {} if flavor is mlflow.xgboost else {"skops_trusted_types": ["sklearn.tree._tree.Tree"]}
    with mlflow.start_run() as run:
        info = flavor.log_model(model.estimator, name="model", input_example=example, **options)
    probabilities = model.estimator.predict_proba(data.to_numpy())
    classes = [int(c) for c in model.estimator.classes_]
    profile = build_profile(
        data,
        source="breast_cancer (all rows)",
        predictions=np.asarray(classes)[probabilities.argmax(axis=1)],
        probabilities=probabilities,
        classes=classes,
    )
    return register(
        prefix + model.name,
        info.model_id,
        metrics={},
        dataset_fingerprint="breast_cancer",
        sweep_id=EXPERIMENT,
        trial_id=run.info.run_id,
        extra_files={PROFILE_FILE: profile.to_json().encode()},
    )


def policy(versions: list[PinnedVersion]) -> GatewayConfig:
    """One model per reference model, each all on its one version."""
    models = {v.name: policy_of(v.name, [(v.version, 100)]).models[v.name] for v in versions}
    return GatewayConfig(models=models)


def pin_cluster(cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of the local cluster's processes."""
    for tid in cluster_threads():
        try:
            os.sched_setaffinity(tid, cpus)
        except (ProcessLookupError, PermissionError):
            continue  # it ended meanwhile


def cluster_threads() -> Iterator[int]:
    for pid in stack_pids():
        try:
            yield from (int(tid) for tid in os.listdir(Path("/proc") / str(pid) / "task"))
        except FileNotFoundError:
            continue  # it ended meanwhile
