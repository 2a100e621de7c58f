"""Real OIP clients against a live gateway, run by the integration tier in their own environment (`.venv-clients`,
`make clients`): NVIDIA's tritonclient (HTTP and gRPC) with its default settings and the KServe SDK's REST (v1, v2)
and gRPC clients. They need protobuf < 7, and each defines the `inference.*` protobuf messages (as the gateway's stubs
do), so no two of them can share a process: one client per run.

    python oip_clients.py triton_grpc --http 127.0.0.1:8000 --grpc 127.0.0.1:9000 --requests '{"iris": [[5.1, 1.4]]}'

prints one JSON object: per model, the version that answered and the outputs, or the error the client raised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np


def triton_http(args: argparse.Namespace, rows: np.ndarray) -> dict[str, Any]:
    import tritonclient.http as http

    client = http.InferenceServerClient(args.http, connection_timeout=30, network_timeout=60)
    assert client.is_server_live(headers=args.headers) and client.is_server_ready(headers=args.headers)
    metadata = client.get_model_metadata(args.model, headers=args.headers)
    inputs = [http.InferInput("input-0", list(rows.shape), "FP32")]
    inputs[0].set_data_from_numpy(rows)  # binary_data=True: the binary tensor extension
    result = client.infer(args.model, inputs, headers=args.headers)
    return _answer(result.get_response()["model_version"], result.as_numpy, metadata["platform"])


def triton_grpc(args: argparse.Namespace, rows: np.ndarray) -> dict[str, Any]:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(args.grpc)
    assert client.is_server_live(headers=args.headers) and client.is_server_ready(headers=args.headers)
    metadata = client.get_model_metadata(args.model, headers=args.headers)
    inputs = [grpcclient.InferInput("input-0", list(rows.shape), "FP32")]
    inputs[0].set_data_from_numpy(rows)
    result = client.infer(args.model, inputs, headers=args.headers)
    return _answer(result.get_response().model_version, result.as_numpy, metadata.platform)


def kserve_rest_v1(args: argparse.Namespace, rows: np.ndarray) -> dict[str, Any]:
    from kserve import InferenceRESTClient, RESTConfig

    async def call() -> dict[str, Any]:
        headers: dict[str, str] = {}
        async with InferenceRESTClient(RESTConfig(protocol="v1")) as client:
            body = {"instances": rows.tolist()}
            answer = await client.infer(f"http://{args.http}", body, args.model, args.headers, headers)
        return {"version": headers.get("x-model-version"), "predict": answer["predictions"]}

    return asyncio.run(call())


def kserve_rest_v2(args: argparse.Namespace, rows: np.ndarray) -> dict[str, Any]:
    from kserve import InferenceRESTClient, InferRequest, RESTConfig

    async def call() -> dict[str, Any]:
        request = InferRequest(args.model, infer_inputs=[_kserve_input(rows)])
        headers: dict[str, str] = {}
        async with InferenceRESTClient(RESTConfig(protocol="v2")) as client:
            answer = await client.infer(f"http://{args.http}", request, args.model, args.headers, headers)
        # KServe 0.21's InferResponse.from_bytes drops the body's model_version: read the gateway's header instead.
        return {**_kserve_answer(answer), "version": headers.get("x-model-version")}

    return asyncio.run(call())


def kserve_grpc(args: argparse.Namespace, rows: np.ndarray) -> dict[str, Any]:
    from kserve import InferenceGRPCClient, InferRequest

    async def call() -> dict[str, Any]:
        client = InferenceGRPCClient(args.grpc)
        try:
            request = InferRequest(args.model, infer_inputs=[_kserve_input(rows)])
            answer = await client.infer(request, headers=list(args.headers.items()))
        finally:
            await client.close()
        return _kserve_answer(answer)

    return asyncio.run(call())


def _kserve_input(rows: np.ndarray):
    from kserve import InferInput

    tensor = InferInput("input-0", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=True)
    return tensor


def _kserve_answer(answer) -> dict[str, Any]:
    outputs = {output.name: output.as_numpy() for output in answer.outputs}
    return _answer(answer.model_version, outputs.get, None)


def _answer(version: str, output: Callable[[str], Any], platform: str | None) -> dict[str, Any]:
    proba = output("predict_proba")
    return {
        "version": version,
        "platform": platform,
        "predict": _plain(output("predict")),
        "predict_proba": None if proba is None else _plain(proba),
    }


def _plain(array: np.ndarray) -> list:
    values = array.tolist()
    return [v.decode() if isinstance(v, bytes) else v for v in values]


CLIENTS = {
    "triton_http": triton_http,
    "triton_grpc": triton_grpc,
    "kserve_rest_v1": kserve_rest_v1,
    "kserve_rest_v2": kserve_rest_v2,
    "kserve_grpc": kserve_grpc,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("--http", required=True, help="host:port of the gateway's HTTP ingress")
    parser.add_argument("--grpc", required=True, help="host:port of the gateway's gRPC ingress")
    parser.add_argument("--requests", required=True, help='JSON object {"<model>": [[row], ...], ...}')
    parser.add_argument("--api-key", help="sent as x-api-key")
    args = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # the KServe SDK parses the process's argv when it is imported
    args.headers = {"x-api-key": args.api_key} if args.api_key else {}
    results = {}
    for model, rows in json.loads(args.requests).items():
        args.model = model
        try:
            results[model] = CLIENTS[args.client](args, np.asarray(rows, dtype=np.float32))
        except Exception as exc:  # reported as data: the test shows what the client said
            results[model] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
