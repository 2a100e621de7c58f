"""Serving benchmark: throughput and p50/p99 of seven ways to serve one model, measured with wrk, and their ratios.

    eval "$(python -m cluster env)"
    python -m bench.bench_serving --model-uri models:/iris/1 --second-model-uri models:/iris/2
    python -m bench.bench_serving --model-uri models:/iris/1 --handwritten-only   # the graph and the gateway only

Scenarios: an in-process single-row predict loop; a plain single-process FastAPI app (uvicorn, no batching) -
both calling the model's own framework `predict`, as plain code would, and again through rayship's predictor;
two direct single-deployment Serve apps (batching, no gateway: a minimal one, and one with rayship's HTTP layer;
see `direct_app.py`); a hand-written two-deployment Serve graph (a FastAPI ingress calling a `@serve.batch` model
deployment through a handle; see `handwritten_graph_app.py`); the gateway with one version; the gateway with two
versions at 90/10. wrk (Debian package `wrk`) is the external load generator (closed loop, `-c` connections).
Every request is the same single row: KServe v1 (`post.lua`), and OIP v2 (`post_oip.lua`) for the hand-written
graph, which speaks only that, and for the gateway measured against it.

It replaces the cluster's Serve applications while it runs and puts the previous ones back at the end.
Results, with every printed ratio under `ratios`, go to `bench/results/serving-<time>.json` (git-ignored;
`serving-handwritten-<time>.json` with `--handwritten-only`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import httpx
import numpy as np

from bench import cpu_meter
from bench.baseline_model import Predict, load_baseline
from bench.serve_admin import BENCH_APP_CPUS, ServeAdmin, gateway_app, policy_of, version_app
from deployments.app_config import GATEWAY_APP

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ROW = [5.1, 3.5, 1.4, 0.2]
SCRIPT = BENCH_DIR / "post.lua"
OIP_SCRIPT = BENCH_DIR / "post_oip.lua"
# The bodies the two scripts send, posted once to see each scenario answer before it is measured.
V1_REQUEST = {"instances": [ROW]}
OIP_REQUEST = {"inputs": [{"name": "input-0", "shape": [1, len(ROW)], "datatype": "FP64", "data": ROW}]}
HANDWRITTEN_APP = "bench-handwritten"
HANDWRITTEN_PREFIX = "/handwritten"
# The two Serve scenarios `--handwritten-only` measures: the hand-written graph and the gateway on its protocol.
HANDWRITTEN_PAIR = ("gateway_1v_oip", "handwritten_graph")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
CpuProbe = Callable[[], cpu_meter.CpuSample]


class Target(NamedTuple):
    """One Serve scenario: where wrk posts, with which script, and that script's body."""

    url: str
    script: Path
    body: dict


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri", required=True, help="pinned models:/<name>/<N> to serve")
    parser.add_argument("--second-model-uri", help="a second version for the 90/10 scenario (skipped without)")
    parser.add_argument("--duration-s", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="16,32", help="comma-separated wrk connection counts")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per scenario; medians reported")
    parser.add_argument(
        "--handwritten-only",
        action="store_true",
        help="measure only the hand-written Serve graph and the gateway (one version, OIP v2), interleaved",
    )
    return parser.parse_args(argv)


def parse_wrk(output: str) -> dict:
    """Requests/s, p50/p99 (ms) and non-2xx count from `wrk --latency` output."""

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
        "requests": int(count.group(1)) if count else 0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def run_wrk(url: str, connections: int, threads: int, duration_s: int, script: Path, cpu: CpuProbe | None) -> dict:
    """One wrk run; with a probe, also the serving processes' CPU milliseconds per request, by role."""
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    before = cpu() if cpu else None
    output = subprocess.run([*command, "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    row = parse_wrk(output)
    if cpu and before:
        row["cpu_ms_per_request"] = cpu_meter.ms_per_request(before, cpu(), row["requests"])
    return row


def combine(runs: list[dict]) -> dict:
    """Medians of repeated runs (errors are summed): one noisy run on a shared machine does not decide."""
    row = {key: statistics.median(one[key] for one in runs) for key in ("requests_per_s", "p50_ms", "p99_ms")}
    row["runs_requests_per_s"] = [run["requests_per_s"] for run in runs]
    row["non_2xx"] = sum(run.get("non_2xx", 0) for run in runs)
    roles = sorted({role for run in runs for role in run.get("cpu_ms_per_request", {})})
    if roles:
        row["cpu_ms_per_request"] = {
            role: round(statistics.median(run.get("cpu_ms_per_request", {}).get(role, 0.0) for run in runs), 3)
            for role in roles
        }
    return row


def in_process_loop(predict: Predict, duration_s: int) -> dict:
    row = np.asarray([ROW])
    latencies, deadline = [], time.perf_counter() + duration_s
    while (start := time.perf_counter()) < deadline:
        predict(row)
        latencies.append((time.perf_counter() - start) * 1000)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"requests_per_s": len(latencies) / duration_s, "p50_ms": quantiles[49], "p99_ms": quantiles[98]}


def cluster_session() -> int | None:
    """The session id of the local cluster's Ray head (`python -m cluster up` records its PID), if it runs here."""
    from cluster.settings import settings_from_env
    from cluster.state import load_state

    state = load_state(settings_from_env().state_dir)
    head = next((service for service in (state.services if state else []) if service.name == "ray-head"), None)
    return head.pid if head else None


def probe(session: int | None, *extra_pids: int) -> CpuProbe | None:
    if session is None:
        return None  # a remote cluster: no process counters to read
    return lambda: cpu_meter.sample(session, extra_pids)


def ingress_mode(session: int | None) -> str:
    if session is None:
        return "unknown (remote cluster)"
    return "HAProxy (Serve high-throughput mode)" if cpu_meter.haproxy_runs(session) else "Ray Serve proxy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, body: dict = V1_REQUEST, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json=body, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def direct_app(uri: str, protocols: bool = False) -> dict:
    """A `direct_app.py` baseline: the minimal one, or with rayship's HTTP layer (`protocols`)."""
    return {
        "name": "bench-direct-protocols" if protocols else "bench-direct",
        "route_prefix": "/direct-protocols" if protocols else "/direct",
        "import_path": "bench.direct_app:build_protocols_app" if protocols else "bench.direct_app:build_app",
        # A local cluster shares this file system; a remote one would need `working_dir` as a remote URI.
        "runtime_env": {"env_vars": {"PYTHONPATH": str(REPO)}},
        "args": {"model_uri": uri},
        "deployments": [
            {
                "name": "DirectProtocols" if protocols else "Direct",
                "num_replicas": 1,
                "ray_actor_options": {"num_cpus": BENCH_APP_CPUS},
            }
        ],
    }


def handwritten_graph_app(uri: str) -> dict:
    """The `handwritten_graph_app.py` graph: its ingress and its model deployment, one small replica each."""
    deployment = {"num_replicas": 1, "ray_actor_options": {"num_cpus": BENCH_APP_CPUS}}
    return {
        "name": HANDWRITTEN_APP,
        "route_prefix": HANDWRITTEN_PREFIX,
        "import_path": "bench.handwritten_graph_app:build_app",
        "runtime_env": {"env_vars": {"PYTHONPATH": str(REPO)}},
        "args": {"model_uri": uri},
        "deployments": [{"name": name, **deployment} for name in ("HandwrittenIngress", "HandwrittenModel")],
    }


def bench_apps(uri: str, handwritten_only: bool = False) -> list[dict]:
    """The benchmark's own Serve apps beside the gateway and its version apps."""
    graph = handwritten_graph_app(uri)
    return [graph] if handwritten_only else [direct_app(uri), direct_app(uri, protocols=True), graph]


def serve_targets(serve_url: str, model: str, handwritten_only: bool = False) -> dict[str, Target]:
    """The Serve scenarios measured interleaved, in the order they run."""
    v1, oip = f"/v1/models/{model}:predict", f"/v2/models/{model}/infer"
    targets = {
        "direct_serve": Target(f"{serve_url}/direct", SCRIPT, V1_REQUEST),
        "direct_serve_protocols": Target(f"{serve_url}/direct-protocols{v1}", SCRIPT, V1_REQUEST),
        "gateway_1v": Target(f"{serve_url}{v1}", SCRIPT, V1_REQUEST),
        "gateway_1v_oip": Target(f"{serve_url}{oip}", OIP_SCRIPT, OIP_REQUEST),
        "handwritten_graph": Target(f"{serve_url}{HANDWRITTEN_PREFIX}{oip}", OIP_SCRIPT, OIP_REQUEST),
    }
    return {name: targets[name] for name in HANDWRITTEN_PAIR} if handwritten_only else targets


def plain_fastapi(
    model: str, model_dir: Path, baseline: str, suffix: str, connections: list[int], args, session: int | None
) -> dict[str, dict]:
    """wrk against `plain_app.py` in its own uvicorn process, calling the model the `baseline` way."""
    port = free_port()
    env = {
        **os.environ,
        "RAYSHIP_BENCH_MODEL_DIR": str(model_dir),
        "RAYSHIP_BENCH_BASELINE": baseline,
        "OMP_NUM_THREADS": "1",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "bench.plain_app:app", "--app-dir", str(REPO), "--port", str(port)]
    plain = subprocess.Popen([*uvicorn, "--log-level", "warning"], env=env)
    results = {}
    try:
        url = f"http://127.0.0.1:{port}/v1/models/{model}:predict"
        wait_http(url)
        for c in connections:
            print(f"plain FastAPI ({baseline} predict), {c} connections ...", flush=True)
            plain_cpu = probe(session, plain.pid)
            runs = [run_wrk(url, c, args.wrk_threads, args.duration_s, SCRIPT, plain_cpu) for _ in range(2)]
            results[f"plain_fastapi{suffix}@{c}"] = combine(runs)
    finally:
        plain.terminate()
        plain.wait(timeout=30)
    return results


def baselines(pinned, connections: list[int], args, session: int | None) -> dict[str, dict]:
    """The scenarios without Serve: the in-process loop and the plain FastAPI app, calling the model both ways."""
    from registry.api import download_verified

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rayship-bench-") as tmp:
        model_dir = download_verified(pinned, Path(tmp))
        for baseline, suffix in (("framework", ""), ("rayship", "_rayship")):
            print(f"in-process single-row loop ({baseline} predict) ...", flush=True)
            results[f"in_process{suffix}"] = in_process_loop(load_baseline(model_dir, baseline), args.duration_s)
            # The framework's own predict at every connection count; rayship's predictor at the highest only.
            counts = connections if baseline == "framework" else connections[-1:]
            results.update(plain_fastapi(pinned.name, model_dir, baseline, suffix, counts, args, session))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    from deployments.gateway.app import policy_digest
    from registry.api import resolve

    connections = [int(c) for c in args.connections.split(",")]
    pinned = resolve(args.model_uri)
    second = resolve(args.second_model_uri) if args.second_model_uri and not args.handwritten_only else None
    session = cluster_session()
    results: dict[str, dict] = {} if args.handwritten_only else baselines(pinned, connections, args, session)

    admin = ServeAdmin()
    previous = admin.current_apps()
    versions = [(pinned.version, args.model_uri)] + ([(second.version, args.second_model_uri)] if second else [])
    apps = [version_app(pinned.name, v, uri) for v, uri in versions]
    one = policy_of(pinned.name, [(pinned.version, 100)] + ([(second.version, 0)] if second else []))
    cpu = probe(session)
    ours = bench_apps(args.model_uri, args.handwritten_only)
    try:
        admin.deploy([gateway_app(one), *apps, *ours])
        admin.wait_running([GATEWAY_APP, *(app["name"] for app in ours + apps)])
        admin.wait_policy(policy_digest(one))
        targets = serve_targets(admin.settings.serve_url, pinned.name, args.handwritten_only)
        for target in targets.values():
            wait_http(target.url, target.body)
        results["ingress"] = {"mode": ingress_mode(session)}
        print(f"Serve ingress: {results['ingress']['mode']}", flush=True)
        for c in connections:
            print(f"{', '.join(targets)}: {c} connections, {args.repeats} interleaved runs", flush=True)
            runs: dict[str, list[dict]] = {name: [] for name in targets}
            for _ in range(args.repeats):  # interleaved, so all see the same machine
                for name, target in targets.items():
                    runs[name].append(run_wrk(target.url, c, args.wrk_threads, args.duration_s, target.script, cpu))
            results.update({f"{name}@{c}": combine(one_scenario) for name, one_scenario in runs.items()})
        if second:
            split = policy_of(pinned.name, [(pinned.version, 90), (second.version, 10)])
            admin.deploy([gateway_app(split), *apps, *ours])
            admin.wait_policy(policy_digest(split))
            gateway_url = targets["gateway_1v"].url
            for c in connections:
                print(f"gateway (2 versions 90/10), {c} connections ...", flush=True)
                runs_2v = [run_wrk(gateway_url, c, args.wrk_threads, args.duration_s, SCRIPT, cpu) for _ in range(2)]
                results[f"gateway_2v@{c}"] = combine(runs_2v)
    finally:
        if previous:
            admin.deploy(previous)
    results["ratios"] = ratios(results, connections)
    report(results, connections)
    kind = "serving-handwritten" if args.handwritten_only else "serving"
    out = BENCH_DIR / "results" / f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {out}")
    return 0


def report(results: dict[str, dict], connections: list[int]) -> None:
    print(f"\nServe ingress: {results.get('ingress', {}).get('mode', 'unknown')}")
    print(f"{'scenario':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}  CPU ms per request by process")
    for name, row in results.items():
        if "requests_per_s" not in row:
            continue
        errors = row.get("non_2xx", 0)
        cpu = row.get("cpu_ms_per_request") or {}
        cpu_text = ", ".join(f"{role} {ms:.2f}" for role, ms in cpu.items())
        if cpu:
            cpu_text += f" = {sum(cpu.values()):.2f}"
        print(
            f"{name:<24}{row['requests_per_s']:>10.1f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}{errors:>8}"
            f"  {cpu_text}"
        )

    pairs = ratio_pairs(connections)

    def ratio(key: str) -> str:
        value = ratio_of(results, *pairs[key])
        return "n/a" if value is None else f"{value:.2f}"

    low, high = (connections[0], connections[-1])
    print("\nratios (throughput; target in brackets)")
    print(f"  gateway 1v / direct Serve @{low}:      {ratio('gateway/direct')}  [>= 0.9]")
    protocols = ratio("gateway/direct_protocols")
    print(f"    against a direct app with rayship's HTTP layer (what the app split costs): {protocols}")
    handwritten = ", ".join(f"@{c} {ratio(f'gateway/handwritten@{c}')}" for c in connections)
    print(f"  gateway 1v / hand-written Serve graph (ingress + @serve.batch model), both OIP v2: {handwritten}")
    print(f"  gateway 1v / plain FastAPI @{high}:    {ratio('gateway/plain')}  [>= 3]")
    print(f"  gateway 2v / gateway 1v @{high}:       {ratio('gateway_2v/gateway')}")
    print(f"  served rows/s @{high} / in-process loop: {ratio('served/in_process')}  [>= 1]")
    print("  the same two against baselines calling rayship's predictor (its fast paths) instead of the framework's:")
    print(f"    gateway 1v / plain FastAPI @{high}:  {ratio('gateway/plain_rayship')}")
    print(f"    served rows/s @{high} / in-process:  {ratio('served/in_process_rayship')}")


def ratio_pairs(connections: list[int]) -> dict[str, tuple[str, str]]:
    """Each throughput ratio the report prints: (numerator scenario, denominator scenario)."""
    low, high = (connections[0], connections[-1])
    pairs = {
        "gateway/direct": (f"gateway_1v@{low}", f"direct_serve@{low}"),
        "gateway/direct_protocols": (f"gateway_1v@{low}", f"direct_serve_protocols@{low}"),
        "gateway/plain": (f"gateway_1v@{high}", f"plain_fastapi@{high}"),
        "gateway_2v/gateway": (f"gateway_2v@{high}", f"gateway_1v@{high}"),
        "served/in_process": (f"gateway_1v@{high}", "in_process"),
        "gateway/plain_rayship": (f"gateway_1v@{high}", f"plain_fastapi_rayship@{high}"),
        "served/in_process_rayship": (f"gateway_1v@{high}", "in_process_rayship"),
    }
    # The hand-written graph speaks only OIP v2: the gateway is held against it on the same request.
    pairs.update({f"gateway/handwritten@{c}": (f"gateway_1v_oip@{c}", f"handwritten_graph@{c}") for c in connections})
    return pairs


def ratio_of(results: dict[str, dict], a: str, b: str) -> float | None:
    """Throughput of scenario `a` over `b`; None when either was not measured (or `b` served nothing)."""
    if a not in results or b not in results or not results[b].get("requests_per_s"):
        return None
    return results[a]["requests_per_s"] / results[b]["requests_per_s"]


def ratios(results: dict[str, dict], connections: list[int]) -> dict[str, float | None]:
    """Every ratio of the report, for the JSON result: `"<a> / <b>"` -> a's throughput over b's (None: not measured)."""
    values = {f"{a} / {b}": ratio_of(results, a, b) for a, b in ratio_pairs(connections).values()}
    return {key: None if value is None else round(value, 3) for key, value in values.items()}


if __name__ == "__main__":
    raise SystemExit(main())
