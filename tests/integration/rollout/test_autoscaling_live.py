"""Autoscaling and `rayship scale` on the shared local cluster.

A version app autoscaling 1-3 (fast settings: upscale after 1 s, downscale after 20 s, a low target) behind the
gateway: concurrent load on the gateway takes its `ModelVersion` from 1 RUNNING replica to 2 or more, and it is
back at 1 soon after the load stops, with no request failing meanwhile. Then `scale_cli.main` fixes it at 2
replicas (Serve then applies no autoscaling at all: the config's `autoscaling_config: null` overrides the one in
`ModelVersion`'s decorator) and sets autoscaling bounds again. Replica counts are read from the Serve REST API's
instance details, as `serve status` and the dashboard's Serve tab show them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from cluster.settings import ClusterSettings
from deployments import app_config
from deployments.traffic_policy import GatewayConfig, ModelPolicy, VersionRoute
from registry.api import PinnedVersion
from rollout import scale_cli
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.clock import SystemClock
from rollout.scaling import deployed_sizing, replica_counts, version_details
from scripts.example_models import register_iris

MODEL = "iris-autoscale"
ROW = [5.1, 3.5, 1.4, 0.2]
FAST_AUTOSCALING = {
    "min_replicas": 1,
    "max_replicas": 3,
    # Ongoing requests per version replica are the share of time it is busy (one gateway call in flight per
    # replica): saturated, about 1, so 0.3 asks for 3 replicas; idle, 0.
    "target_ongoing_requests": 0.3,
    "upscale_delay_s": 1,
    # Longer than a replica takes to start on a busy 2-core machine (10-15 s): a lull while the new replicas
    # import does not scale them away before they run.
    "downscale_delay_s": 20,
    "look_back_period_s": 5,
}
# 0.1 CPU each: three of them, the gateway and the rest of the tier fit 2 cores.
VERSION_OPTIONS = {
    "max_ongoing_requests": 64,
    "ray_actor_options": {"num_cpus": 0.1},
    "autoscaling_config": FAST_AUTOSCALING,
}
GATEWAY_OPTIONS = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.1}}
# The gateway's handles report the version app's ongoing requests to Serve's autoscaler every 10 s by default.
FAST_METRICS = {"env_vars": {"RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "1"}}
LOAD_THREADS = 8
UPSCALE_WITHIN_S = 90.0
DOWNSCALE_WITHIN_S = 90.0


class ClosedLoop:
    """`threads` clients each posting one row after another to the gateway until stopped; bounded in time and in
    requests, it stops by itself. Counts answers by HTTP status (0: no answer)."""

    def __init__(self, serve_url: str, threads: int, max_s: float = 150.0, max_requests: int = 200_000) -> None:
        self.url = f"{serve_url}/v1/models/{MODEL}:predict"
        self.statuses: Counter[int] = Counter()
        self.deadline = time.monotonic() + max_s
        self.budget = max_requests
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> ClosedLoop:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _take(self) -> bool:
        with self._lock:
            if self._stop.is_set() or self.budget <= 0 or time.monotonic() > self.deadline:
                return False
            self.budget -= 1
            return True

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while self._take():
                try:
                    status = client.post(self.url, json={"instances": [ROW]}).status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.statuses[status] += 1


@pytest.fixture
def details_router(cluster: ClusterSettings, token: str) -> scale_cli.ServeDetailsRouter:
    return scale_cli.ServeDetailsRouter(cluster.dashboard_url, token, SystemClock(), timeout_s=120)


@pytest.fixture
def autoscaled_version(cluster: ClusterSettings, serve_router: ServeRestRouter, wait_for) -> tuple[PinnedVersion, str]:
    """Serve running only a gateway and one version of MODEL at 100 %, autoscaling fast between 1 and 3."""
    pinned = register_iris(MODEL, experiment="autoscaling-integration", sweep_id="autoscaling-it")
    app_name = app_config.version_app_name(MODEL, pinned.version)
    route = VersionRoute(version=pinned.version, app=app_name, weight=100)
    policy = ModelPolicy(versions=[route], champion=pinned.version)
    gateway = app_config.gateway_app(
        GatewayConfig(models={MODEL: policy}), runtime_env=FAST_METRICS, deployment=GATEWAY_OPTIONS
    )
    version = app_config.version_app(MODEL, pinned.version, model_uri=pinned.uri, deployment=VERSION_OPTIONS)
    serve_router.write_config(
        {**serve_router.read_config(), "applications": [gateway, version]}, [app_config.GATEWAY_APP, app_name]
    )
    # The gateway resolves version handles lazily: an app Serve calls RUNNING may not be routable yet.
    wait_for(lambda: ready(cluster.serve_url), f"{MODEL} ready at the gateway", timeout_s=120, poll_s=0.5)
    return pinned, app_name


def ready(serve_url: str) -> bool:
    try:
        return httpx.get(f"{serve_url}/v2/models/{MODEL}/ready", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(300)
def test_load_scales_a_version_up_and_back_down_and_rayship_scale_sizes_it(
    cluster: ClusterSettings,
    autoscaled_version: tuple[PinnedVersion, str],
    details_router: scale_cli.ServeDetailsRouter,
    wait_for,
    tmp_path: Path,
    capsys,
) -> None:
    pinned, app_name = autoscaled_version

    def running() -> int:
        return replica_counts(details_router.details(), app_name)["RUNNING"]

    wait_for(lambda: running() == 1, f"{app_name} at min_replicas (1 RUNNING)", timeout_s=60)

    peak = 1
    with ClosedLoop(cluster.serve_url, LOAD_THREADS) as load:

        def scaled_up() -> bool:
            nonlocal peak
            peak = max(peak, running())
            return peak >= 2

        wait_for(scaled_up, f"{app_name} to scale up under load", timeout_s=UPSCALE_WITHIN_S, poll_s=1.0)
    stopped_at = time.monotonic()
    wait_for(lambda: running() == 1, f"{app_name} back at 1 RUNNING replica", timeout_s=DOWNSCALE_WITHIN_S, poll_s=1.0)
    back_after_s = time.monotonic() - stopped_at
    # Scaling up and down failed no request.
    assert set(load.statuses) == {200}, (load.statuses, f"peak {peak} RUNNING", f"back to 1 in {back_after_s:.1f} s")

    scale = ["--model", MODEL, "--version", pinned.version, "--state-dir", str(tmp_path / "state"), "--timeout-s", "90"]
    assert scale_cli.main([*scale, "--replicas", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"Scaled {app_name}: 2 RUNNING"
    details = details_router.details()
    assert replica_counts(details, app_name)["RUNNING"] == 2
    assert deployed_sizing(details, app_name) == {"num_replicas": 2, "autoscaling_config": None}
    applied = version_details(details, app_name)
    assert applied["target_num_replicas"] == 2
    assert applied["deployment_config"].get("autoscaling_config") is None  # fixed: the code's autoscaling is off too

    assert scale_cli.main([*scale, "--min", "1", "--max", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"Scaled {app_name}: ")
    details = details_router.details()
    assert deployed_sizing(details, app_name) == {
        "autoscaling_config": {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 0.7}
    }
    autoscaling = version_details(details, app_name)["deployment_config"]["autoscaling_config"]
    assert (autoscaling["min_replicas"], autoscaling["max_replicas"]) == (1, 3)
    assert 1 <= replica_counts(details, app_name)["RUNNING"] <= 3

    assert scale_cli.main(scale) == 0  # the read-only view
    view = capsys.readouterr().out.splitlines()
    assert view[0] == f"{app_name}: version '{pinned.version}' of model '{MODEL}' (weight 100, champion), RUNNING"
    assert view[1] == "  configured: autoscaling min_replicas 1, max_replicas 3, target_ongoing_requests 0.7"
    assert not (tmp_path / "state" / MODEL / "lease.json").exists()
