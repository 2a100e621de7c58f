"""The gateway's endpoints: each reads what it needs from the request, calls the `DataPlane`, and encodes.

Plain Starlette endpoints, not FastAPI's: its parameter solving and response checks cost CPU on every request and
give nothing here. A predict endpoint checks, in order: the API key (401/403), the model and any pinned version
(404), the content type (415), the body size (413), then parses (400). Errors propagate; the route table answers
them (`errors.guarded`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from deployments.auth import check_admin_token
from deployments.codecs import oip
from deployments.codecs.predict_codec import PredictCodec, RawBody
from deployments.dataplane import DataPlane
from deployments.errors import BadPayloadError, VersionNotReadyError
from deployments.gateway.rest.errors import MODEL_VERSION_HEADER
from deployments.gateway.rest.request_body import read_body
from deployments.gateway.rest.request_id import request_id_of
from deployments.gateway.service import GatewayService, PredictionSink
from deployments.stats import ModelStats
from monitoring.errors import MonitorNotRunningError
from monitoring.feedback import parse_feedback
from monitoring.labels import LabelItem

StatsSource = Callable[[str], Awaitable[ModelStats]]
PolicyView = Callable[[], dict[str, Any]]


class MonitoringLink(PredictionSink, Protocol):
    """The gateway's side of model monitoring (`deployments.gateway.monitor_link`): served predictions go to its
    log, labels and status requests to the cluster's monitor."""

    async def status(self, model: str) -> dict[str, Any]:
        """The monitor's `ModelStatus` of `model`, as JSON."""

    async def detail(self, model: str) -> dict[str, Any]:
        """Per version: reference and live counts per bin, accuracy over time (`monitoring.monitor.VersionDetail`)."""

    async def feedback(self, model: str, items: list[LabelItem]) -> dict[str, Any]:
        """Join labels with their predictions: `{"accepted": n, "unknown": m, "expired": k, ...}`."""


def answer(body: Any, version: str = "", status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={MODEL_VERSION_HEADER: version})


class Endpoints:
    """The version comes from the path only (`{version}`), never from a query string."""

    def __init__(
        self,
        plane: DataPlane,
        admin_token: str | None,
        stats_source: StatsSource,
        policy_view: PolicyView,
        environ: Mapping[str, str],
        monitoring: MonitoringLink | None = None,
    ) -> None:
        self._plane = plane
        self._admin_token = admin_token
        self._stats_source = stats_source
        self._policy_view = policy_view
        self._service = GatewayService(plane, environ, monitoring)
        self._monitoring = monitoring

    async def server_metadata(self, request: Request) -> JSONResponse:
        return answer(oip.encode_server_metadata())

    async def live(self, request: Request) -> JSONResponse:
        return answer({"live": True})

    async def ready(self, request: Request) -> JSONResponse:
        if not self._plane.ready():
            return answer({"ready": False, "error": "Not every model has a ready version"}, status_code=503)
        return answer({"ready": True})

    async def predict(self, codec: PredictCodec[Any], request: Request) -> Response:
        model, version = request.path_params["model"], request.path_params.get("version")
        self._authorize(request)
        self._service.check_version(model, version)  # before reading the body: a 404 beats a 400
        body, media_type = await read_body(request, codec.content_types, self._plane.config.max_body_bytes)
        decoded = codec.decode(body, media_type, request.headers)
        request_id = getattr(decoded, "request_id", None) or request_id_of(request)
        served = await self._service.predict(model, version, codec.features(decoded), request.headers, request_id)
        encoded = codec.encode(model, served.prediction, decoded)
        if isinstance(encoded, RawBody):
            headers = {**encoded.headers, MODEL_VERSION_HEADER: served.version}
            return Response(encoded.content, media_type=encoded.media_type, headers=headers)
        return answer(encoded, served.version)

    async def feedback(self, request: Request) -> JSONResponse:
        """Labels for earlier predictions, joined on the request id (the OIP `id` the client sent, else the
        response's `x-request-id`)."""
        model = request.path_params["model"]
        self._authorize(request)
        self._plane.policy(model)  # an unknown model is a 404, as for predictions
        body, _ = await read_body(request, ("application/json",), self._plane.config.max_body_bytes)
        items = parse_feedback(body, model)
        if self._monitoring is None:
            raise MonitorNotRunningError()
        return answer(await self._monitoring.feedback(model, items))

    async def model_metadata(self, request: Request) -> JSONResponse:
        model, version = request.path_params["model"], request.path_params.get("version")
        self._authorize(request)
        versions, metadata = await self._plane.metadata(model, version)
        return answer(oip.encode_metadata(model, versions, metadata), metadata.version)

    async def model_ready(self, request: Request) -> JSONResponse:
        model, version = request.path_params["model"], request.path_params.get("version")
        self._authorize(request)
        shown = version or self._plane.policy(model).champion_version
        if not self._plane.version_ready(model, version):
            raise VersionNotReadyError(model, shown)
        return answer({"name": model, "version": shown, "ready": True}, shown)

    async def stats(self, request: Request) -> JSONResponse:
        model = self._admin_model(request, "stats")
        return answer((await self._stats_source(model)).model_dump())

    async def monitoring(self, request: Request) -> JSONResponse:
        """Drift per version of one model, from the cluster's monitor (`monitoring.monitor.ModelStatus`)."""
        model = self._admin_model(request, "monitoring")
        if self._monitoring is None:
            raise MonitorNotRunningError()
        return answer(await self._monitoring.status(model))

    async def monitoring_detail(self, request: Request) -> JSONResponse:
        """What `python -m monitoring report` plots: reference against live bins, accuracy over time."""
        model = self._admin_model(request, "monitoring/detail")
        if self._monitoring is None:
            raise MonitorNotRunningError()
        return answer(await self._monitoring.detail(model))

    def _admin_model(self, request: Request, route: str) -> str:
        check_admin_token(self._admin_token, request.headers.get("authorization"))
        model = request.query_params.get("model")
        if not model:
            raise BadPayloadError(f"Name the model: /-/rayship/{route}?model=<name>")
        return model

    async def policy(self, request: Request) -> JSONResponse:
        check_admin_token(self._admin_token, request.headers.get("authorization"))
        return answer(self._policy_view())

    def _authorize(self, request: Request) -> None:
        self._service.authorize(request.headers)
