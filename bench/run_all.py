"""`make bench`: every benchmark in one run against one local cluster, each printing its ratio table.

    python -m bench.run_all [--only training,serving,grpc,peers,monitoring,memory,rollout,loop]
    python -m bench.run_all --only serving-handwritten   # only the gateway against the hand-written Serve graph

It reuses a cluster already up (`make up`) or starts one as `make up` does, and stops it at the end: what is
measured is the mode a user gets with no flags. The serving and memory benchmarks register a fixed reference model
first (two seeded versions of `bench-iris`, scikit-learn's default 100-tree RandomForest:
`scripts.example_models.register_reference_forest`); the peers benchmark registers its two reference models
(`bench/reference_models.py`) and runs MLServer and a plain FastAPI app beside the gateway; the rollout benchmark
registers its own (a good and a broken version of `iris-bench-rollout`); the loop benchmark its `bench-loop`, whose
alert rules it adds to the local Prometheus for the run. `serving-handwritten`, never part of the default run
(`serving` measures the same and more), is the serving benchmark cut down to the gateway and the hand-written
two-deployment Serve graph (`bench/handwritten_graph_app.py`), interleaved, on the serving benchmark's first version.
Results are JSON files in `bench/results/`; figures quoted in the README come from there.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cluster import lifecycle
from cluster.commands import client_exports
from cluster.settings import settings_from_env
from cluster.token import token_path
from scripts.example_models import register_reference_forest

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BENCHES = ("training", "serving", "grpc", "peers", "monitoring", "memory", "rollout", "loop")
# Selectable with --only, never run by default: each measures a part of a default benchmark again.
EXTRA_BENCHES = ("serving-handwritten",)


def chosen_benches(argv: list[str] | None) -> list[str]:
    """The benchmarks `--only` names, in its order (all of BENCHES without it); unknown names exit with usage."""
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(BENCHES),
        help=f"comma-separated subset of {', '.join(BENCHES)} (default: all of them), or of "
        f"{', '.join(EXTRA_BENCHES)} (serving cut down to the gateway and the hand-written Serve graph)",
    )
    chosen = [name.strip() for name in parser.parse_args(argv).only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHES) - set(EXTRA_BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    chosen = chosen_benches(argv)
    settings = settings_from_env()
    rows = lifecycle.status(settings)
    started = not (rows and all(running for _, _, running, _ in rows))
    if started:
        lifecycle.up(settings)
    os.environ.update(client_exports(settings, token_path()))
    failures = []
    try:
        for name in chosen:
            print(f"\n==== benchmark: {name} ====", flush=True)
            if RUNNERS[name]() != 0:
                failures.append(name)
    finally:
        if started:
            lifecycle.down(settings)
    print(f"\nbenchmarks done; failed: {', '.join(failures) or 'none'}; results in {BENCH_DIR / 'results'}")
    return 1 if failures else 0


def _run(*args: str) -> int:
    return subprocess.run([sys.executable, *args], cwd=REPO, check=False).returncode


def _training() -> int:
    return _run("-m", "bench.bench_training")


def _serving() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: `make bench` installs it (Debian package wrk)")
        return 1
    one, two = _reference_versions()
    return _run("-m", "bench.bench_serving", "--model-uri", one, "--second-model-uri", two)


def _serving_handwritten() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: `make bench` installs it (Debian package wrk)")
        return 1
    one, _ = _reference_versions()
    return _run("-m", "bench.bench_serving", "--model-uri", one, "--handwritten-only")


@functools.cache
def _reference_versions() -> tuple[str, str]:
    """A fixed reference model (scikit-learn's default 100-tree forest on iris), two seeds: a sweep's winner changes
    from run to run, and with it every ratio against the baselines."""
    one, two = (
        register_reference_forest("bench-iris", experiment="bench-serving", sweep_id="bench-serving", seed=seed).uri
        for seed in (0, 1)
    )
    return one, two


def _grpc() -> int:
    one, _ = _reference_versions()
    return _run("-m", "bench.bench_grpc", "--model-uri", one)


def _peers() -> int:
    return _run("-m", "bench.bench_peers")


def _monitoring() -> int:
    return _run("-m", "bench.bench_monitoring")


def _memory() -> int:
    results = str(BENCH_DIR / "results")
    return _run("-m", "bench.memory", "--deploy", ",".join(_reference_versions()), "--results-dir", results)


def _rollout() -> int:
    return _run("-m", "bench.bench_rollout")


def _loop() -> int:
    return _run("-m", "bench.bench_loop")


RUNNERS = {
    "training": _training,
    "serving": _serving,
    "serving-handwritten": _serving_handwritten,
    "grpc": _grpc,
    "peers": _peers,
    "monitoring": _monitoring,
    "memory": _memory,
    "rollout": _rollout,
    "loop": _loop,
}

if __name__ == "__main__":
    raise SystemExit(main())
