"""gRPC beside HTTP for the same model through the same gateway: OIP v2 `ModelInfer` on Serve's gRPC ingress against
OIP v2 JSON `infer` on its HTTP ingress, throughput and p50/p99 at the same number of connections, and their ratio.

    eval "$(python -m cluster env)"
    python -m bench.bench_grpc --model-uri models:/bench-iris/1 [--connections 16] [--duration-s 10]

One client process for both, so the client's cost is alike: `grpc.aio` for gRPC, `aiohttp` for HTTP (no wrk: it
has no gRPC), each a closed loop of `--connections` concurrent callers with one row per request, runs interleaved.
It replaces the cluster's Serve applications while it runs and puts the previous ones back at the end.
Results go to `bench/results/grpc-<time>.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from bench.serve_admin import ServeAdmin, gateway_app, policy_of, version_app
from deployments.app_config import GATEWAY_APP

BENCH_DIR = Path(__file__).resolve().parent
ROW = [5.1, 3.5, 1.4, 0.2]
Call = Callable[[], Awaitable[None]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_grpc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri", required=True, help="pinned models:/<name>/<N> to serve")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration-s", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of each transport")
    return parser.parse_args(argv)


async def closed_loop(call: Call, connections: int, duration_s: float) -> dict:
    """`connections` callers, each sending its next request when the last is answered, for `duration_s`."""
    latencies_ms: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def caller() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                await call()
            except Exception:  # counted: a benchmark reports failures instead of stopping
                errors += 1
                continue
            latencies_ms.append((time.perf_counter() - start) * 1e3)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = np.sort(latencies_ms) if latencies_ms else np.asarray([float("nan")])
    return {
        "requests": len(latencies_ms),
        "errors": errors,
        "rps": len(latencies_ms) / elapsed,
        "p50_ms": float(np.percentile(ordered, 50)),
        "p99_ms": float(np.percentile(ordered, 99)),
    }


def http_call(session, url: str) -> Call:
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]})

    async def call() -> None:
        async with session.post(url, data=body, headers={"content-type": "application/json"}) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

    return call


def grpc_call(stub, model: str) -> Call:
    from deployments.codecs.oip_tensors import encode_raw
    from deployments.gateway.oip_grpc import grpc_predict_v2_pb2 as pb

    tensor = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP64", shape=[1, 4])
    request = pb.ModelInferRequest(
        model_name=model, inputs=[tensor], raw_input_contents=[encode_raw(np.asarray([ROW]), "FP64")]
    )

    async def call() -> None:
        await stub.ModelInfer(request, timeout=30)

    return call


async def measure(http_url: str, grpc_address: str, model: str, args: argparse.Namespace) -> dict[str, dict]:
    import aiohttp
    import grpc

    from deployments.gateway.oip_grpc.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub

    runs: dict[str, list[dict]] = {"http": [], "grpc": []}
    connector = aiohttp.TCPConnector(limit=args.connections)
    channel = grpc.aio.insecure_channel(grpc_address)
    async with aiohttp.ClientSession(connector=connector) as session, channel:
        calls = {"http": http_call(session, http_url), "grpc": grpc_call(GRPCInferenceServiceStub(channel), model)}
        for call in calls.values():  # warm both paths (handles, connections) before measuring
            await closed_loop(call, args.connections, 2)
        for _ in range(args.repeats):
            for name, call in calls.items():
                print(f"{name}: {args.connections} connections, {args.duration_s} s ...", flush=True)
                runs[name].append(await closed_loop(call, args.connections, args.duration_s))
    return {name: combine(one) for name, one in runs.items()}


def combine(runs: list[dict]) -> dict:
    return {
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "rps": statistics.mean(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "runs": runs,
    }


def report(results: dict[str, dict], connections: int) -> None:
    http, grpc = results["http"], results["grpc"]
    print(f"\nOIP v2 through the gateway, {connections} connections, one row per request")
    print(f"{'transport':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, row in (("HTTP", http), ("gRPC", grpc)):
        print(f"{name:<10}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}{row['errors']:>8}")
    print(f"gRPC / HTTP: throughput x{grpc['rps'] / http['rps']:.2f}, p99 x{grpc['p99_ms'] / http['p99_ms']:.2f}")


def main(argv: list[str] | None = None) -> int:
    from registry.api import resolve

    args = parse_args(argv)
    pinned = resolve(args.model_uri)
    admin = ServeAdmin()
    previous = admin.current_apps()
    try:
        admin.deploy(
            [
                gateway_app(policy_of(pinned.name, [(pinned.version, 100)])),
                version_app(pinned.name, pinned.version, args.model_uri),
            ]
        )
        admin.wait_only([GATEWAY_APP, f"{pinned.name}-v{pinned.version}"])
        admin.wait_ready(pinned.name)
        http_url = f"{admin.settings.serve_url}/v2/models/{pinned.name}/infer"
        results = asyncio.run(measure(http_url, admin.settings.grpc_address, pinned.name, args))
    finally:
        if previous:
            admin.deploy(previous)
    report(results, args.connections)
    out = BENCH_DIR / "results" / f"grpc-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"connections": args.connections, "model_uri": args.model_uri, **results}, indent=2))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
