"""The gateway's HTTP app: a declarative route table over `Endpoints`, and the one handler for routing errors.

Every response carries `x-model-version` (empty when no version applies) and `x-request-id` (echoed when the client
sent a sane one, else generated; by Serve's proxy when it stands in front).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from deployments.codecs import kserve_v1, mlflow_scoring, oip
from deployments.codecs.predict_codec import PredictCodec
from deployments.dataplane import DataPlane
from deployments.gateway.rest.endpoints import Endpoints, MonitoringLink, PolicyView, StatsSource
from deployments.gateway.rest.errors import Endpoint, guarded, routing_error
from deployments.gateway.rest.request_id import RequestIdMiddleware

PREDICT_CODECS: tuple[PredictCodec[Any], ...] = (oip.INFER, kserve_v1.PREDICT, mlflow_scoring.INVOCATIONS)


def create_app(
    plane: DataPlane,
    admin_token: str | None,
    stats_source: StatsSource,
    policy_view: PolicyView,
    environ: Mapping[str, str],
    lifespan: Callable[[Any], Any] | None = None,
    stamp_request_id: bool = True,
    monitoring: MonitoringLink | None = None,
) -> Starlette:
    """`stamp_request_id=False` behind Serve, whose proxy echoes or generates `x-request-id` itself."""
    endpoints = Endpoints(plane, admin_token, stats_source, policy_view, environ, monitoring)
    return Starlette(
        routes=routes(endpoints),
        middleware=[Middleware(RequestIdMiddleware)] if stamp_request_id else [],
        exception_handlers={HTTPException: routing_error},
        lifespan=lifespan,
    )


def routes(endpoints: Endpoints) -> list[Route]:
    """Each path of a versioned pair shares its endpoint; `{version}` pins a version."""
    return [
        route("GET", "/v2", endpoints.server_metadata),
        route("GET", "/v2/health/live", endpoints.live),
        route("GET", "/v2/health/ready", endpoints.ready),
        *predict_routes(endpoints),
        route("POST", "/v2/models/{model}/feedback", endpoints.feedback),
        route("GET", "/v2/models/{model}/versions/{version}", endpoints.model_metadata),
        route("GET", "/v2/models/{model}", endpoints.model_metadata),
        route("GET", "/v2/models/{model}/versions/{version}/ready", endpoints.model_ready),
        route("GET", "/v2/models/{model}/ready", endpoints.model_ready),
        route("GET", "/-/rayship/stats", endpoints.stats),
        route("GET", "/-/rayship/policy", endpoints.policy),
        route("GET", "/-/rayship/monitoring", endpoints.monitoring),
        route("GET", "/-/rayship/monitoring/detail", endpoints.monitoring_detail),
    ]


def predict_routes(endpoints: Endpoints) -> list[Route]:
    """One `POST` route per path each codec declares."""
    return [
        route("POST", path, functools.partial(endpoints.predict, codec))
        for codec in PREDICT_CODECS
        for path in codec.paths
    ]


def route(method: str, path: str, endpoint: Endpoint) -> Route:
    return Route(path, guarded(endpoint), methods=[method])
