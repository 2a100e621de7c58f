"""The gateway application: `import_path: deployments.gateway.app:build_app`, route prefix `/`.

The `Gateway` deployment's `user_config` is the traffic policy (`deployments/traffic_policy.py:GatewayConfig`).
`reconfigure()` validates it and swaps it atomically; it never raises for a valid policy (raising makes Serve
replace the replica). An invalid policy is logged and rejected while the previous one keeps serving, except on a
replica's very first configuration, where there is nothing to fall back to and the deploy must fail.
`GET /-/rayship/policy` (admin token) shows the active policy, its digest and the last rejection;
`GET /-/rayship/monitoring?model=M` (admin token) the monitor's drift and accuracy per version; labels arrive at
`POST /v2/models/{model}/feedback` (data-plane keys), joined with the predictions every replica sends the monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from ray.serve import Application

from deployments.app_config import GATEWAY_DEPLOYMENT
from deployments.dataplane import DataPlane
from deployments.gateway.aggregator import get_or_create_aggregator
from deployments.gateway.caller import ServeVersionCaller
from deployments.gateway.monitor_link import ServeMonitorLink
from deployments.gateway.oip_grpc.loopback import bind_grpc_to_host
from deployments.gateway.oip_grpc.servicer import GrpcInferenceMethods, GrpcService
from deployments.gateway.prometheus import PrometheusRecorder, RouteWeightGauge
from deployments.gateway.rest.app import create_app
from deployments.gateway.service import GatewayService
from deployments.metrics import CounterStore, FanOutRecorder
from deployments.stats import PUSH_INTERVAL_S, ModelStats, ReplicaPush
from deployments.traffic_policy import GatewayConfig
from rayship.cluster_token import read_cluster_token

logger = logging.getLogger("ray.serve")


class GatewayAppArgs(BaseModel):
    """The `args` of the gateway application (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status_poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often each replica re-reads which version apps have running replicas."
    )
    stats_push_interval_s: float = Field(
        PUSH_INTERVAL_S, gt=0, le=60, description="How often each replica pushes its counters to the aggregator."
    )


def policy_digest(config: GatewayConfig) -> str:
    return hashlib.sha256(json.dumps(config.model_dump(), sort_keys=True).encode()).hexdigest()


@serve.deployment(
    name=GATEWAY_DEPLOYMENT,
    ray_actor_options={"num_cpus": 0.1},
    max_ongoing_requests=256,
    # Serve's per-request access log line is on the gateway's hot path (docs/serving.md); the gateway counts every
    # request per version itself (stats, Prometheus). A config file can turn it back on.
    logging_config={"enable_access_log": False},
)
@serve.ingress()
class Gateway(GrpcInferenceMethods):
    """HTTP through the Starlette app below; OIP v2 over gRPC through the methods `GrpcInferenceMethods` names."""

    def __init__(self, args: dict | None = None) -> None:
        bind_grpc_to_host()  # before Serve starts this replica's direct-ingress gRPC server
        self._args = GatewayAppArgs.model_validate(args or {})
        self._store = CounterStore()
        self._caller = ServeVersionCaller(timeout_s=GatewayConfig().request_timeout_s)
        self._plane = DataPlane(self._caller, FanOutRecorder(self._store, PrometheusRecorder()))
        self._configured = False
        self._digest = policy_digest(self._plane.config)
        self._rejection: str | None = None
        self._replica = serve.get_replica_context().replica_id.unique_id
        self._aggregator: Any = None
        self._monitoring = ServeMonitorLink()
        self._weights = RouteWeightGauge()
        self._grpc = GrpcService(GatewayService(self._plane, os.environ, self._monitoring))

    async def reconfigure(self, user_config: dict) -> None:
        try:
            config = GatewayConfig.model_validate(user_config or {})
        except ValidationError as exc:
            if not self._configured:
                raise  # no previous policy to keep serving: this deploy must fail visibly
            self._rejection = str(exc)
            logger.error("rejected an invalid gateway policy; the previous one keeps serving: %s", exc)
            return
        # Serve reports the app RUNNING once this returns, and a rollout takes that as "applied": the versions the
        # policy routes to must be known ready by then.
        await self._caller.refresh_unless_ready(config.routed_apps())
        self._caller.configure(config.request_timeout_s, config.max_batch_size, config.calls_per_replica)
        self._plane.apply(config)
        self._weights.show(config)  # at once, for a rollout's steps; _push_forever repeats it
        self._digest = policy_digest(config)
        self._configured, self._rejection = True, None

    def __serve_build_asgi_app__(self):
        return create_app(
            self._plane,
            read_cluster_token(os.environ),
            self._model_stats,
            self._policy_view,
            os.environ,
            lifespan=self._lifespan,
            stamp_request_id=False,  # Serve's proxy echoes or generates x-request-id itself
            monitoring=self._monitoring,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        with contextlib.suppress(Exception):  # the first view is best effort; the poll retries
            await self._caller.refresh()
        tasks = [
            asyncio.create_task(self._caller.poll_forever(self._args.status_poll_interval_s)),
            asyncio.create_task(self._push_forever()),
            asyncio.create_task(self._monitoring.flush_forever()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()

    async def _push_forever(self) -> None:
        while True:
            # A gauge set once, in the replica's first reconfigure, can miss Ray's metrics export; set every round
            # it is always there (live test: tests/integration/deployments/test_prometheus_live.py).
            self._weights.show(self._plane.config)
            try:
                if self._aggregator is None:
                    self._aggregator = await asyncio.to_thread(get_or_create_aggregator)
                push = ReplicaPush(
                    replica=self._replica,
                    pushed_at=time.time(),
                    policy_digest=self._digest,
                    stats=self._store.snapshot(),
                )
                await self._aggregator.push.remote(push.model_dump())
            except Exception:  # the aggregator may be restarting; counters are cumulative, the next push catches up
                logger.exception("could not push serving stats")
                self._aggregator = None
            await asyncio.sleep(self._args.stats_push_interval_s)

    async def _model_stats(self, model: str) -> ModelStats:
        if self._aggregator is None:
            self._aggregator = await asyncio.to_thread(get_or_create_aggregator)
        return ModelStats.model_validate(await self._aggregator.model_stats.remote(model))

    def _policy_view(self) -> dict[str, Any]:
        return {
            "replica": self._replica,
            "policy_digest": self._digest,
            "policy": self._plane.config.model_dump(),
            "last_rejection": self._rejection,
        }


def build_app(args: dict) -> Application:
    """`import_path: deployments.gateway.app:build_app`; `args` may be empty."""
    validated = GatewayAppArgs.model_validate(args or {})
    return Gateway.bind(validated.model_dump())
