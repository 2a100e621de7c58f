"""The driver's fake world: a fake clock, an in-memory router and simulated gateway traffic, for the driver's
and the CLI's unit tests."""

from __future__ import annotations

import copy
import math
from pathlib import Path

from deployments.app_config import gateway_app, version_app
from deployments.histogram import Histogram
from rayship.lease import LeaseFile
from rollout.adapters.metrics_source import StatsSnapshot
from rollout.adapters.routers.base import DEPLOY_FAILED, RUNNING, ServeConfigRouter
from rollout.core.observation import VersionCounters
from rollout.core.spec import parse_spec
from rollout.driver import DriverSettings, RolloutDriver
from rollout.errors import AppStartError, MetricsUnavailableError
from rollout.live_config import parse_live_config
from rollout.persistence.history import Progress
from rollout.persistence.store import RolloutStore

SPEC = parse_spec(
    {
        "strategy": "canary",
        "interval_s": 2,
        "threshold": 2,
        "step_weights": [10, 25, 50, 75],
        "min_requests": 5,
        "max_inconclusive": 3,
        "warm_window_s": 10,
    }
)


class Crash(BaseException):
    """Stands for `kill -9`: not an Exception, so nothing in the driver handles it."""


class FakeClock:
    def __init__(self, tick_s: float = 0.0) -> None:
        self.t = 1_000_000.0
        self.tick_s = tick_s  # a real clock moves between two readings

    def now(self) -> float:
        self.t += self.tick_s
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


def serve_config() -> dict:
    policy = {"models": {"iris": {"versions": [{"version": "1", "app": "iris-v1", "weight": 100}], "champion": "1"}}}
    champion = version_app("iris", "1", deployment={"ray_actor_options": {"num_cpus": 0.25}})
    return {"applications": [gateway_app(policy), champion]}


def find_app(config: dict, name: str):
    return parse_live_config(config).app(name)


class FakeRouter(ServeConfigRouter):
    """An in-memory Serve: apps become RUNNING when written, unless they are listed in `failing_apps`. Each
    write takes `write_s` of fake time (a reconfigure is not instant)."""

    def __init__(self, clock: FakeClock, failing_apps: tuple[str, ...] = (), write_s: float = 0.5) -> None:
        self.clock, self.failing_apps, self.write_s = clock, failing_apps, write_s
        self.config = serve_config()
        self.statuses = {"gateway": RUNNING, "iris-v1": RUNNING}
        self.writes: list[dict] = []
        self.crash_on_write: int | None = None

    def read_config(self) -> dict:
        return copy.deepcopy(self.config)

    def write_config(self, config: dict, wait_for: list[str]) -> None:
        self.clock.sleep(self.write_s)
        self.config = copy.deepcopy(config)
        names = {app["name"] for app in config["applications"]}
        self.statuses = {name: self.statuses.get(name, RUNNING) for name in names}
        for name in names - set(self.statuses) | (names & set(self.failing_apps)):
            self.statuses[name] = DEPLOY_FAILED if name in self.failing_apps else RUNNING
        self.writes.append(copy.deepcopy(config))
        if self.crash_on_write == len(self.writes):
            raise Crash
        for name in wait_for:
            if self.statuses[name] != RUNNING:
                raise AppStartError(name, self.statuses[name], "ModuleNotFoundError: no model")

    def app_statuses(self) -> dict[str, str]:
        return dict(self.statuses)

    def weights(self) -> dict[str, int]:
        return parse_live_config(self.config).weights("iris")


class SimulatedGateway:
    """Cumulative per-version counters for `rps` requests/s split by the router's live weights; versions in
    `broken_from` fail every request from that instant on."""

    def __init__(self, clock: FakeClock, router: FakeRouter, rps: float = 50, latency_ms: float = 8) -> None:
        self.clock, self.router, self.rps, self.latency_ms = clock, router, rps, latency_ms
        self.broken_from: dict[str, float] = {}
        self.exact: dict[str, list[float]] = {}  # version -> [requests, errors] as floats
        self.last_t = clock.now()
        self.unavailable = False
        self.errors_served: dict[str, float] = {}

    def snapshot(self, model: str) -> StatsSnapshot:
        self._advance()
        if self.unavailable:
            raise MetricsUnavailableError(model, "fake", "down")
        versions = {}
        for version, (requests, errors) in self.exact.items():
            served = math.floor(requests) - math.floor(errors)
            versions[version] = VersionCounters(
                requests=math.floor(requests),
                errors=math.floor(errors),
                latency_ms=Histogram(bounds=[self.latency_ms], counts=[served, 0], count=served),
            )
        return StatsSnapshot(
            model=model, collected_at_s=self.clock.now(), oldest_push_at_s=self.clock.now(), versions=versions
        )

    def _advance(self) -> None:
        now = self.clock.now()
        start, self.last_t = self.last_t, now
        for version, weight in self.router.weights().items():
            counts = self.exact.setdefault(version, [0.0, 0.0])
            rate = self.rps * weight / 100
            counts[0] += rate * (now - start)
            broken_since = self.broken_from.get(version)
            if broken_since is not None and broken_since < now:
                counts[1] += rate * (now - max(start, broken_since))


class RecordingRegistry:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, str, str]] = []

    def record_outcome(self, model: str, champion: str, candidate: str, verdict: str, rollout_id: str) -> None:
        self.outcomes.append((model, champion, candidate, verdict))


class World:
    def __init__(self, tmp_path: Path, failing_apps: tuple[str, ...] = (), spec=SPEC) -> None:
        self.tmp_path, self.spec = tmp_path, spec
        self.clock = FakeClock()
        self.router = FakeRouter(self.clock, failing_apps)
        self.gateway = SimulatedGateway(self.clock, self.router)
        self.registry = RecordingRegistry()
        self.store = RolloutStore(tmp_path, "iris")
        self.progress: list[Progress] = []

    def driver(self, owner: str = "me", **overrides) -> RolloutDriver:
        arguments = dict(
            model="iris",
            spec=self.spec,
            router=self.router,
            metrics=self.gateway,
            store=self.store,
            lease=LeaseFile(self.tmp_path, "iris"),
            clock=self.clock,
            owner=owner,
            registry=self.registry,
            on_progress=self.progress.append,
            settings=DriverSettings(lease_ttl_s=60),
            new_id=lambda: "r1",
        )
        arguments.update(overrides)
        return RolloutDriver(**arguments)

    def actions(self) -> list[tuple[str, int]]:
        return [(event.action, event.candidate_weight) for event in self.store.events()]

    def event_time(self, action: str) -> float:
        return next(event.applied_at_s for event in self.store.events() if event.action == action)
