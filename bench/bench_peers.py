"""Peer benchmark: rayship's gateway against MLServer (adaptive batching, and its defaults) and a plain FastAPI app.

    python -m bench.bench_peers --servers mlserver-batching,mlserver-default,fastapi

Two reference models (`reference_models.py`: a random forest and an XGBoost classifier), single-row OIP v2 requests
from wrk. Every server runs pinned to core 1, wrk to core 0. All servers stay up for the whole run, and the runs
interleave (repeat, then model, then server, then connection count), so every server is measured in the same
minutes while only the one under load is busy; medians over the repeats are reported, then rayship against the
best peer per model and connection count. Results go to `bench/results/peers-<time>.json` (git-ignored).

rayship's gateway is not built here: a caller passes its factory, `main(argv, rayship=RayshipGateway)`, any callable
taking a `bench.peers.server.PeerContext` and returning a `bench.peers.server.Server`. Without it, asking for
`--servers rayship` is an error and the ratios say rayship was not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import httpx

from bench.bench_serving import combine
from bench.peers import report
from bench.peers.fastapi_peer import FastAPIPeer
from bench.peers.load import WRK_THREADS, missing_tools, request_body, run_wrk, write_script
from bench.peers.mlserver import mlserver_batching, mlserver_default
from bench.peers.mlserver_venv import pins
from bench.peers.server import LOAD_CPU, SERVER_CPU, PeerContext, PeerError, Server, ServerFactory
from bench.reference_models import load_reference_models

BENCH_DIR = Path(__file__).resolve().parent
PEERS: dict[str, ServerFactory] = {
    "mlserver-batching": mlserver_batching,
    "mlserver-default": mlserver_default,
    "fastapi": FastAPIPeer,
}


def parse_args(argv: list[str] | None, known: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(known), help=f"comma-separated, of: {', '.join(known)}")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per cell; medians reported")
    parser.add_argument("--duration-s", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup-s", type=int, default=3, help="unrecorded wrk seconds per server and model first")
    parser.add_argument("--connections", default="16,32", help="comma-separated wrk connection counts")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".peers", help="venvs, model repositories, logs")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    return parser.parse_args(argv)


def available(rayship: ServerFactory | None) -> dict[str, ServerFactory]:
    return {report.RAYSHIP: rayship, **PEERS} if rayship else dict(PEERS)


def selected(args: argparse.Namespace, factories: dict[str, ServerFactory]) -> list[str]:
    """The servers asked for, in the order given; a ValueError names what is wrong with the list."""
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in factories]
    if unknown:
        hint = " (rayship's gateway is wired in by the caller: main(rayship=...))" if report.RAYSHIP in unknown else ""
        raise ValueError(f"unknown server(s) {', '.join(unknown)}{hint}; known: {', '.join(factories)}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"--servers needs distinct names, at least one: {args.servers!r}")
    return names


def input_problem(args: argparse.Namespace) -> str | None:
    """Why this run cannot start, or None."""
    if missing := missing_tools():
        return f"{' and '.join(missing)} not installed (Debian: apt-get install {' '.join(missing)}; `make bench` does)"
    if not {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0):
        return f"needs CPUs {LOAD_CPU} (wrk) and {SERVER_CPU} (servers); this process may use {os.sched_getaffinity(0)}"
    if args.repeats < 1 or args.duration_s < 1 or args.warmup_s < 0:
        return "--repeats and --duration-s must be at least 1, --warmup-s at least 0"
    try:
        connections = [int(c) for c in args.connections.split(",")]
    except ValueError:
        return f"--connections must be comma-separated integers: {args.connections!r}"
    return None if all(c > 0 for c in connections) else f"--connections must be positive: {args.connections!r}"


def check_answers(servers: list[Server], context: PeerContext) -> None:
    """One request per server and model: a 200, and (warned about, not fatal) the class the model predicts here."""
    for server in servers:
        for name, model in context.models.items():
            url = server.infer_url(name)
            response = httpx.post(url, content=request_body(model.row), headers={"content-type": "application/json"})
            if response.status_code != 200:
                raise PeerError(f"{server.name}: {url} answered {response.status_code}: {response.text[:300]}")
            answer = response.json().get("outputs", [{}])[0].get("data", [None])[0]
            if answer != model.expected_class():
                print(f"warning: {server.name} answered {answer!r} for {name}, expected {model.expected_class()}")


def measure(servers: list[Server], context: PeerContext, scripts: dict[str, Path], args) -> report.Results:
    connections = [int(c) for c in args.connections.split(",")]
    if args.warmup_s:
        print(f"warm-up: {args.warmup_s} s per server and model", flush=True)
        for server in servers:
            for name in context.models:
                run_wrk(server.infer_url(name), scripts[name], connections[0], args.warmup_s, context.load_cpu)
    runs: dict[str, dict[str, list[dict]]] = {server.name: {} for server in servers}
    for repeat in range(1, args.repeats + 1):
        for name in context.models:
            for server in servers:
                for c in connections:
                    print(f"repeat {repeat}/{args.repeats}: {server.name} {name} c={c} ...", flush=True)
                    row = run_wrk(server.infer_url(name), scripts[name], c, args.duration_s, context.load_cpu)
                    runs[server.name].setdefault(report.cell(name, c), []).append(row)
    return {server: {key: combine(rows) for key, rows in cells.items()} for server, cells in runs.items()}


def run(names: list[str], factories: dict[str, ServerFactory], args) -> tuple[report.Results, PeerContext]:
    context = PeerContext(models=load_reference_models(args.work_dir / "models"), work_dir=args.work_dir)
    scripts = {name: write_script(model, args.work_dir / "wrk") for name, model in context.models.items()}
    with ExitStack() as stack:
        servers = []
        for name in names:
            server = factories[name](context)
            stack.callback(server.stop)  # registered before start: a server that fails half-way is stopped too
            print(f"starting {name} (pinned to CPU {context.server_cpu}) ...", flush=True)
            server.start()
            servers.append(server)
        check_answers(servers, context)
        return measure(servers, context, scripts, args), context


def conditions(args, context: PeerContext) -> dict:
    return {
        "repeats": args.repeats,
        "duration_s": args.duration_s,
        "warmup_s": args.warmup_s,
        "connections": args.connections,
        "server_cpu": context.server_cpu,
        "load_cpu": context.load_cpu,
        "wrk_threads": WRK_THREADS,
        "models": list(context.models),
        "mlserver_venv_pins": pins(),
        "bench_python": {name: version(name) for name in ("scikit-learn", "xgboost", "fastapi", "uvicorn")},
    }


def main(argv: list[str] | None = None, rayship: ServerFactory | None = None) -> int:
    factories = available(rayship)
    args = parse_args(argv, list(factories))
    try:
        names = selected(args, factories)
    except ValueError as error:
        print(f"bench_peers: {error}", file=sys.stderr)
        return 2
    if problem := input_problem(args):
        print(f"bench_peers: {problem}", file=sys.stderr)
        return 2
    try:
        results, context = run(names, factories, args)
    except PeerError as error:
        print(f"bench_peers: {error}", file=sys.stderr)
        return 1
    cells = [report.cell(name, int(c)) for name in context.models for c in args.connections.split(",")]
    print("\n" + "\n".join(report.table(results, cells)))
    print("\n" + "\n".join(report.ratio_lines(results, cells)))
    out = args.results_dir / f"peers-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"conditions": conditions(args, context), "results": results}
    document["ratios"] = [asdict(one) for one in report.ratios(results, cells)]
    out.write_text(json.dumps(document, indent=2))
    print(f"\nresults: {out}")
    if errors := report.non_2xx(results):
        print(f"bench_peers: {errors} non-2xx responses: these numbers do not compare servers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from bench.peers.rayship import RayshipGateway

    raise SystemExit(main(rayship=RayshipGateway))
