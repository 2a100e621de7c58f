"""The detached actor `rayship-metrics` (namespace `serve`) that sums every gateway replica's counters.

Gateway replicas call `push(ReplicaPush dict)` every second; the stats endpoint and in-cluster readers call
`model_stats(model)` and get a `ModelStats` dict (schema in `deployments/stats.py`).
"""

from __future__ import annotations

import time

import ray

from deployments.stats import ReplicaPush, aggregate_model_stats

ACTOR_NAME = "rayship-metrics"
ACTOR_NAMESPACE = "serve"


@ray.remote(num_cpus=0, max_restarts=-1)
class MetricsAggregator:
    def __init__(self) -> None:
        self._pushes: dict[str, ReplicaPush] = {}

    def push(self, push: dict) -> None:
        parsed = ReplicaPush.model_validate(push)
        self._pushes[parsed.replica] = parsed

    def model_stats(self, model: str) -> dict:
        return aggregate_model_stats(list(self._pushes.values()), model, time.time()).model_dump()


def get_or_create_aggregator():
    """Blocking (a GCS lookup): call it off the event loop."""
    return MetricsAggregator.options(
        name=ACTOR_NAME, namespace=ACTOR_NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
