"""The gateway's `inference.GRPCInferenceService` (OIP v2 over gRPC), served through Ray Serve's gRPC ingress.

Serve's gRPC proxy (or, in HAProxy mode, each gateway replica's direct-ingress server) deserializes the message
and calls the deployment method named after the RPC; `GrpcInferenceMethods` gives the `Gateway` those six methods.
Each reads the call's metadata (API keys as `authorization: Bearer <key>` or `x-api-key`, the sticky header),
calls `GrpcService`, and turns an error into a status in one place (`status.status_of`). The answering version is
in `model_version` of an infer response and in the `x-model-version` trailing metadata of every answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from google.protobuf.message import Message

from deployments.errors import PayloadTooLargeError
from deployments.gateway.oip_grpc import grpc_predict_v2_pb2 as pb
from deployments.gateway.oip_grpc.messages import (
    infer_call,
    infer_response,
    metadata_response,
    server_metadata_response,
)
from deployments.gateway.oip_grpc.status import status_of
from deployments.gateway.service import GatewayService

MODEL_VERSION_METADATA = "x-model-version"
Answer = tuple[Message, str]  # the response and the version it names ("" for none)


class CallContext(Protocol):
    """What the servicer uses of a call's context (Ray's `RayServegRPCContext`, or grpc's own)."""

    def invocation_metadata(self) -> Any: ...
    def set_code(self, code: Any) -> None: ...
    def set_details(self, details: str) -> None: ...
    def set_trailing_metadata(self, trailing_metadata: Any) -> None: ...


class GrpcService:
    """The six calls over the `GatewayService`, each taking the request message and the call's metadata."""

    def __init__(self, service: GatewayService) -> None:
        self._service = service
        self._plane = service.plane

    async def server_live(self, request: pb.ServerLiveRequest, metadata: Mapping[str, str]) -> Answer:
        return pb.ServerLiveResponse(live=True), ""

    async def server_ready(self, request: pb.ServerReadyRequest, metadata: Mapping[str, str]) -> Answer:
        return pb.ServerReadyResponse(ready=self._plane.ready()), ""

    async def server_metadata(self, request: pb.ServerMetadataRequest, metadata: Mapping[str, str]) -> Answer:
        return server_metadata_response(), ""

    async def model_ready(self, request: pb.ModelReadyRequest, metadata: Mapping[str, str]) -> Answer:
        self._service.authorize(metadata)
        version = request.version or None
        policy = self._service.check_version(request.name, version)
        shown = version or policy.champion_version
        return pb.ModelReadyResponse(ready=self._plane.version_ready(request.name, version)), shown

    async def model_metadata(self, request: pb.ModelMetadataRequest, metadata: Mapping[str, str]) -> Answer:
        self._service.authorize(metadata)
        versions, model_metadata = await self._plane.metadata(request.name, request.version or None)
        return metadata_response(request.name, versions, model_metadata), model_metadata.version

    async def model_infer(self, request: pb.ModelInferRequest, metadata: Mapping[str, str]) -> Answer:
        self._service.authorize(metadata)
        self._service.check_version(request.model_name, request.model_version or None)
        limit = self._plane.config.max_body_bytes
        if request.ByteSize() > limit:
            raise PayloadTooLargeError(limit)
        call = infer_call(request)
        request_id = call.request_id or metadata.get("x-request-id") or metadata.get("request_id")
        served = await self._service.predict(call.model, call.version, call.features, metadata, request_id)
        return infer_response(call, served), served.version

    async def answer(
        self,
        call: Callable[[Any, Mapping[str, str]], Awaitable[Answer]],
        empty: type[Message],
        request: Any,
        context: CallContext,
    ) -> Message:
        metadata = {str(key).lower(): value for key, value in context.invocation_metadata()}
        try:
            response, version = await call(request, metadata)
        except Exception as exc:  # every error leaves through the one mapping
            code, details = status_of(exc)
            context.set_code(code)
            context.set_details(details)
            return empty()
        context.set_trailing_metadata([(MODEL_VERSION_METADATA, version)])
        return response


class GrpcInferenceMethods:
    """The RPC methods Serve calls by name on the gateway; the class that mixes this in sets `_grpc`."""

    _grpc: GrpcService

    async def ServerLive(self, request: pb.ServerLiveRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.server_live, pb.ServerLiveResponse, request, grpc_context)

    async def ServerReady(self, request: pb.ServerReadyRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.server_ready, pb.ServerReadyResponse, request, grpc_context)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.server_metadata, pb.ServerMetadataResponse, request, grpc_context)

    async def ModelReady(self, request: pb.ModelReadyRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.model_ready, pb.ModelReadyResponse, request, grpc_context)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.model_metadata, pb.ModelMetadataResponse, request, grpc_context)

    async def ModelInfer(self, request: pb.ModelInferRequest, grpc_context: CallContext) -> Message:  # noqa: N802
        return await self._grpc.answer(self._grpc.model_infer, pb.ModelInferResponse, request, grpc_context)
