"""Fixtures for live rollouts: registered iris versions (good ones and an honestly broken one), a gateway
deployed through the Serve REST router, and steady client traffic that counts what users saw."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from sklearn.datasets import load_iris

from cluster.settings import ClusterSettings
from cluster.token import token_path
from deployments import app_config
from deployments.stats import ModelStats
from deployments.traffic_policy import GatewayConfig, ModelPolicy, VersionRoute
from registry.api import PinnedVersion
from rollout.adapters.metrics_source import STATS_PATH
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.cli import SPEC_DIR
from rollout.clock import SystemClock
from scripts.example_models import register_broken, register_iris, register_mislabelled

MODEL = "iris-rollout"
ROW = [5.1, 3.5, 1.4, 0.2]
VERSION_OPTIONS = {"num_replicas": 1, "max_ongoing_requests": 64, "ray_actor_options": {"num_cpus": 0.1}}
GATEWAY_OPTIONS = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.1}}
LINEAGE = {"experiment": "rollout-integration", "sweep_id": "rollout-it"}


def version_app(pinned: PinnedVersion) -> dict:
    return app_config.version_app(pinned.name, pinned.version, model_uri=pinned.uri, deployment=VERSION_OPTIONS)


def gateway_config(live: dict, champion: PinnedVersion) -> dict:
    """Serve running only the gateway and the champion's app (100 %)."""
    route = VersionRoute(
        version=champion.version, app=app_config.version_app_name(champion.name, champion.version), weight=100
    )
    policy = ModelPolicy(versions=[route], champion=champion.version, failover=True)
    gateway = app_config.gateway_app(GatewayConfig(models={champion.name: policy}), deployment=GATEWAY_OPTIONS)
    return {**live, "applications": [gateway, version_app(champion)]}


@dataclass(frozen=True)
class Answer:
    """One prediction as a user saw it (wall-clock times, comparable with the driver's event log)."""

    sent_at_s: float
    received_at_s: float
    user: str | None
    status: int  # 0 when no HTTP answer came back
    version: str  # the x-model-version header ("" without one)


class Traffic:
    """Steady predictions from a background thread; counts answers by (status, x-model-version) and logs each.

    With `users`, request i carries the header `user_header: user-<i mod users>`, as callers of an A/B test do.
    With `labels`, rows are drawn from iris and each answer's true class is posted back every second
    (`POST /v2/models/{model}/feedback`, joined on the response's x-request-id); `labelled` counts them.
    """

    def __init__(
        self,
        serve_url: str,
        model: str = MODEL,
        rps: float = 20.0,
        users: int = 0,
        user_header: str = "x-user-id",
        labels: bool = False,
    ) -> None:
        self.url = f"{serve_url}/v1/models/{model}:predict"
        self.feedback_url = f"{serve_url}/v2/models/{model}/feedback"
        self.labels = labels
        self.labelled = 0
        self._pending: list[dict] = []
        self._iris = load_iris()
        self._rng = random.Random(0)
        self.period_s = 1.0 / rps
        self.users, self.user_header = users, user_header
        self.answers: Counter[tuple[int, str]] = Counter()
        self.failures: list[tuple[float, int, str, str]] = []
        self.log: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            sent, labelled_at = 0, time.monotonic()
            while not self._stop.is_set():
                started = time.monotonic()
                user = f"user-{sent % self.users}" if self.users else None
                self._send(client, user)
                sent += 1
                if self._pending and started - labelled_at >= 1.0:
                    self._send_labels(client)
                    labelled_at = started
                self._stop.wait(max(self.period_s - (time.monotonic() - started), 0))

    def _send(self, client: httpx.Client, user: str | None) -> None:
        headers = {self.user_header: user} if user is not None else {}
        index = self._rng.randrange(len(self._iris.target)) if self.labels else None
        row = ROW if index is None else self._iris.data[index].tolist()
        sent_at_s = time.time()
        try:
            response = client.post(self.url, json={"instances": [row]}, headers=headers)
        except httpx.HTTPError as exc:
            status, version, text = 0, "", repr(exc)
        else:
            status, version, text = response.status_code, response.headers.get("x-model-version", ""), response.text
            if index is not None and status == 200:
                label = int(self._iris.target[index])
                self._pending.append({"request_id": response.headers["x-request-id"], "label": label})
        self.answers[(status, version)] += 1
        self.log.append(Answer(sent_at_s, time.time(), user, status, version))
        if status != 200:
            self.failures.append((time.time(), status, version, text[:200]))

    def _send_labels(self, client: httpx.Client) -> None:
        try:
            response = client.post(self.feedback_url, json={"labels": self._pending})
        except httpx.HTTPError:
            return  # the next second's batch tries again with these too
        if response.status_code == 200:
            self.labelled += response.json()["accepted"]
            self._pending = []


@pytest.fixture
def token(cluster: ClusterSettings) -> str:
    return token_path().read_text().strip()


@pytest.fixture
def serve_router(cluster: ClusterSettings, token: str) -> Iterator[ServeRestRouter]:
    """The Serve REST router; whatever Serve ran before the test is put back afterwards."""
    router = ServeRestRouter(cluster.dashboard_url, token, SystemClock(), timeout_s=300)
    before = router.read_config()
    yield router
    router.write_config(before, [])


@pytest.fixture(scope="session")
def rollout_versions(cluster: ClusterSettings) -> dict[str, PinnedVersion]:
    """A champion, a good candidate, a candidate that deploys, reaches RUNNING, then fails on every real input
    (`scripts.example_models.register_broken`), and one healthy but wrong with HTTP 200 (`register_mislabelled`),
    registered once."""
    return {
        "champion": register_iris(MODEL, **LINEAGE),
        "good": register_iris(MODEL, **LINEAGE),
        "broken": register_broken(MODEL, **LINEAGE),
        "mislabelled": register_mislabelled(MODEL, **LINEAGE),
    }


@pytest.fixture
def serve_champion(
    cluster: ClusterSettings, serve_router: ServeRestRouter, rollout_versions: dict[str, PinnedVersion]
) -> PinnedVersion:
    """Serve running only the gateway and the champion at 100 %, and the gateway saying the model is ready."""
    champion = rollout_versions["champion"]
    serve_router.write_config(
        gateway_config(serve_router.read_config(), champion),
        [app_config.GATEWAY_APP, app_config.version_app_name(champion.name, champion.version)],
    )
    wait_until_ready(cluster.serve_url, champion.name)
    return champion


def wait_until_ready(serve_url: str, model: str, timeout_s: float = 120.0) -> None:
    """The gateway resolves version handles lazily: an app Serve calls RUNNING may not be routable yet."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            if client.get(f"{serve_url}/v2/models/{model}/ready").status_code == 200:
                return
            time.sleep(0.5)
    raise AssertionError(f"model {model} not ready at the gateway after {timeout_s:.0f} s")


@pytest.fixture
def traffic(cluster: ClusterSettings) -> type[Traffic]:
    """`with traffic(cluster.serve_url) as t:` - steady predictions counted by status and version."""
    return Traffic


@pytest.fixture
def spec_file(tmp_path: Path) -> Callable[..., Path]:
    """`spec_file("shadow", interval_s=1)`: the shipped spec of a strategy (configs/rollouts/) with overrides,
    written to a file in the test's tmp_path - short intervals and warm windows keep live tests short."""

    def write(strategy: str, **overrides: object) -> Path:
        spec = yaml.safe_load((SPEC_DIR / f"{strategy}.yaml").read_text())
        path = tmp_path / f"{strategy}-spec.yaml"
        path.write_text(yaml.safe_dump({**spec, **overrides}))
        return path

    return write


@pytest.fixture
def gateway_stats(cluster: ClusterSettings, token: str) -> Callable[[str], ModelStats]:
    """`gateway_stats(model)`: the gateway's cumulative per-version counters (`GET /-/rayship/stats`)."""

    def read(model: str) -> ModelStats:
        response = httpx.get(
            cluster.serve_url + STATS_PATH,
            params={"model": model},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return ModelStats.model_validate_json(response.content)

    return read


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 300.0, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., None]:
    """`wait_for(condition, "what")`: poll until `condition()` holds; an AssertionError naming `what` on timeout."""
    return wait_for


@pytest.fixture
def served(cluster: ClusterSettings) -> Callable[[int], Counter[tuple[int, str]]]:
    """`served(n)`: send n predictions now, one after another; the answers counted by (status, x-model-version)."""

    def ask(requests: int) -> Counter[tuple[int, str]]:
        answers: Counter[tuple[int, str]] = Counter()
        with httpx.Client(timeout=30) as client:
            for _ in range(requests):
                answer = client.post(f"{cluster.serve_url}/v1/models/{MODEL}:predict", json={"instances": [ROW]})
                answers[(answer.status_code, answer.headers.get("x-model-version", ""))] += 1
        return answers

    return ask
