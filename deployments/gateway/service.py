"""What every transport of the gateway does around the data plane, once: check the API key, check a pinned
version, predict (sticky when the policy names a header), and hand the served prediction to the monitor's log.

The HTTP endpoints and the gRPC servicer both call it with their request's headers (HTTP headers or gRPC
metadata, lower-case names) and differ only in how they decode and encode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from deployments.auth import check_api_key, load_api_keys
from deployments.dataplane import DataPlane
from deployments.gateway.prediction_log import PredictionLog
from deployments.traffic_policy import ModelPolicy
from deployments.types import Features, Served
from rayship.errors import VersionNotFoundError


class PredictionSink(Protocol):
    """Where served predictions go to be joined with labels later (`deployments.gateway.monitor_link`)."""

    predictions: PredictionLog

    def request_id(self) -> str | None:
        """The current request's id as Serve's proxy stamped it, if any."""


class GatewayService:
    def __init__(self, plane: DataPlane, environ: Mapping[str, str], sink: PredictionSink | None = None) -> None:
        self.plane = plane
        self._environ = environ
        self._sink = sink

    def authorize(self, headers: Mapping[str, str]) -> None:
        keys = load_api_keys(self.plane.config.api_keys_env, self._environ)
        check_api_key(keys, headers.get("authorization"), headers.get("x-api-key"))

    def check_version(self, model: str, version: str | None) -> ModelPolicy:
        """The model's policy; a pinned version it does not route is a 404 (before any body is read)."""
        policy = self.plane.policy(model)
        if version is not None and policy.route(version) is None:
            raise VersionNotFoundError(model, version)
        return policy

    async def predict(
        self,
        model: str,
        version: str | None,
        features: Features,
        headers: Mapping[str, str],
        request_id: str | None,
    ) -> Served:
        """`request_id` is the one the client chose (OIP `id`, `x-request-id`); Serve's stands in otherwise."""
        policy = self.check_version(model, version)
        sticky = headers.get(policy.sticky_header.lower()) if policy.sticky_header else None
        served = await self.plane.predict(model, features, pinned=version, sticky_key=sticky)
        if self._sink is not None and policy.record_predictions:
            request_id = request_id or self._sink.request_id()
            if request_id:
                self._sink.predictions.add(request_id, model, served.version, served.prediction.predictions)
        return served
