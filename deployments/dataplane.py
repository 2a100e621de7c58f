"""The gateway's transport-free core: choose a version, call it, fail over, shadow, and count.

HTTP routes decode a request into `Features`, call `DataPlane.predict`, and encode the `Served` answer; they know
nothing of policies or handles. The version apps are reached through a `VersionCaller` (Serve handles in
production, a fake in unit tests); randomness and the clock are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from deployments.errors import NoReadyVersionError, VersionFailedError, VersionNotReadyError, VersionReportedError
from deployments.metrics import MetricsRecorder
from deployments.routing import RoutePlan, plan_route, sticky_draw
from deployments.traffic_policy import GatewayConfig, ModelPolicy, VersionRoute
from deployments.types import Features, ModelMetadata, Prediction, Served, VersionError
from rayship.errors import ModelNotServedError, RayshipError, VersionNotFoundError

logger = logging.getLogger(__name__)


class VersionCaller(Protocol):
    """How the data plane reaches the version apps."""

    def is_ready(self, app: str) -> bool:
        """Whether the app has a running replica (cheap, no I/O)."""

    async def predict(self, app: str, features: Features) -> Prediction | VersionError:
        """The app's answer; raises on a crash or a dead replica (a `RayshipError` carries its status)."""

    async def metadata(self, app: str) -> ModelMetadata:
        """The app's model metadata."""


class DataPlane:
    def __init__(
        self,
        caller: VersionCaller,
        recorder: MetricsRecorder,
        config: GatewayConfig | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._caller = caller
        self._recorder = recorder
        self._config = config or GatewayConfig()
        self._rng = rng
        self._clock = clock
        self._shadow_tasks: set[asyncio.Task] = set()

    @property
    def config(self) -> GatewayConfig:
        return self._config

    def apply(self, config: GatewayConfig) -> None:
        """Swap the whole policy at once: a request in flight keeps the policy it started with."""
        self._config = config

    def policy(self, model: str) -> ModelPolicy:
        policy = self._config.models.get(model)
        if policy is None:
            raise ModelNotServedError(model)
        return policy

    async def predict(
        self, model: str, features: Features, pinned: str | None = None, sticky_key: str | None = None
    ) -> Served:
        policy = self.policy(model)
        u = sticky_draw(f"{model}\x00{sticky_key}") if sticky_key is not None else self._rng()
        plan = plan_route(policy, model, u, self._rng(), pinned)
        if plan.shadow is None:
            return await self._serve(model, policy, plan, features, pinned)
        live: asyncio.Future[Prediction | None] = asyncio.get_running_loop().create_future()
        self._start_shadow(model, plan.shadow, features, live)
        try:
            served = await self._serve(model, policy, plan, features, pinned)
        except BaseException:
            live.set_result(None)  # nothing to compare the mirrored answer with
            raise
        live.set_result(served.prediction)
        return served

    async def _serve(
        self, model: str, policy: ModelPolicy, plan: RoutePlan, features: Features, pinned: str | None
    ) -> Served:
        """The live call: the planned version, then the champion once if it fails and failover allows."""
        champion = policy.champion_version
        try:
            prediction = await self._attempt(model, plan.primary, features, pinned=pinned is not None)
            return Served(model, prediction.version, prediction)
        except VersionNotReadyError:
            if plan.fallback is None:
                if pinned is None and plan.primary.version == champion:
                    raise NoReadyVersionError(model) from None
                raise
            failure: Exception = VersionNotReadyError(model, plan.primary.version)
        except VersionFailedError as exc:
            if plan.fallback is None:
                raise
            failure = exc
        logger.warning("failing over to the champion: %s", failure)
        try:
            prediction = await self._attempt(model, plan.fallback, features, pinned=False)
        except VersionNotReadyError:
            raise NoReadyVersionError(model) from None
        return Served(model, prediction.version, prediction)

    async def _attempt(self, model: str, route: VersionRoute, features: Features, *, pinned: bool) -> Prediction:
        """One call to one version, counted against that version whatever happens; `pinned` when the client chose
        the version (rollouts judge a version only by the requests the policy sent it)."""
        if not self._caller.is_ready(route.app):
            self._recorder.record(model, route.version, 503, None, None, pinned=pinned)
            raise VersionNotReadyError(model, route.version)
        started = self._clock()
        try:
            reply = await self._caller.predict(route.app, features)
        except Exception as exc:  # a crash or a dead replica: counted, then mapped to a 5xx
            status = exc.status_code if isinstance(exc, RayshipError) and exc.status_code >= 500 else 500
            self._recorder.record(model, route.version, status, None, None, pinned=pinned)
            raise VersionFailedError(model, route.version, status, _reason(exc)) from exc
        if isinstance(reply, VersionError):
            self._recorder.record(model, route.version, reply.status_code, None, None, pinned=pinned)
            if reply.status_code >= 500:
                raise VersionFailedError(model, route.version, reply.status_code, reply.message)
            raise VersionReportedError(reply.status_code, reply.message)
        self._recorder.record(model, route.version, 200, self._clock() - started, reply.batch_size, pinned=pinned)
        return reply

    def _start_shadow(
        self, model: str, route: VersionRoute, features: Features, live: asyncio.Future[Prediction | None]
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._shadow(model, route, features, live))
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self, model: str, route: VersionRoute, features: Features, live: asyncio.Future[Prediction | None]
    ) -> None:
        """The mirrored call: measured by `_attempt`, compared with the live answer, then discarded."""
        with contextlib.suppress(RayshipError):
            mirrored = await self._attempt(model, route, features, pinned=False)  # the policy mirrors it
            answer = await live
            if answer is not None:
                compared = len(answer.predictions)
                agreed = agreeing_rows(answer.predictions, mirrored.predictions)
                self._recorder.record_agreement(model, route.version, compared, agreed)

    def version_ready(self, model: str, version: str | None = None) -> bool:
        route = self._route(model, version)
        return self._caller.is_ready(route.app)

    def ready(self) -> bool:
        """Every model's champion can serve (and there is at least one model)."""
        models = self._config.models
        return bool(models) and all(self.version_ready(model) for model in models)

    async def metadata(self, model: str, version: str | None = None) -> tuple[list[str], ModelMetadata]:
        """The served versions and one version's metadata (the champion's unless `version` is given)."""
        route = self._route(model, version)
        if not self._caller.is_ready(route.app):
            raise VersionNotReadyError(model, route.version) if version else NoReadyVersionError(model)
        metadata = await self._caller.metadata(route.app)
        return [r.version for r in self.policy(model).versions], metadata

    def _route(self, model: str, version: str | None) -> VersionRoute:
        policy = self.policy(model)
        route = policy.route(version if version is not None else policy.champion_version)
        if route is None:
            raise VersionNotFoundError(model, version or policy.champion_version)
        return route


def agreeing_rows(live: list[Any], mirrored: list[Any]) -> int:
    """Rows where the mirrored prediction equals the live one (floats within a relative 1e-6: the same model
    batched differently may differ in the last bits)."""
    return sum(1 for a, b in zip(live, mirrored, strict=False) if _same(a, b))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _reason(exc: Exception) -> str:
    """A one-line reason without a traceback (Ray errors stringify to whole tracebacks)."""
    if isinstance(exc, RayshipError):
        return exc.message
    return type(exc).__name__
