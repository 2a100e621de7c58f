"""`make bench`: every benchmark in one run against one local cluster, each printing its ratio table.

    python -m bench.run_all [--only training,serving,rollout]

It reuses a cluster already up (`make up`) or starts one, in Serve's high-throughput mode, and stops it at the end.
The serving benchmark registers its fixed reference model first (two seeded versions of `bench-iris`, scikit-learn's
default 100-tree RandomForest: `scripts.example_models.register_reference_forest`); the rollout benchmark
registers its own (a good and a broken version of `iris-bench-rollout`).
Results are JSON files in `bench/results/`; figures quoted in the README come from there.
"""

from __future__ import annotations

import argparse
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
BENCHES = ("training", "serving", "rollout")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    chosen = [name.strip() for name in parser.parse_args(argv).only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    settings = settings_from_env()
    rows = lifecycle.status(settings)
    started = not (rows and all(running for _, _, running, _ in rows))
    if started:
        # Measure Serve as it is meant to run for throughput (Ray's documented switches); a cluster already up is
        # measured as it is, and the serving benchmark prints which mode it found.
        settings = settings.model_copy(update={"serve_high_throughput": True})
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
    # A fixed reference model (scikit-learn's default 100-tree forest on iris), two seeds for the 90/10 scenario:
    # a sweep's winner changes from run to run, and with it every ratio against the baselines.
    one, two = (
        register_reference_forest("bench-iris", experiment="bench-serving", sweep_id="bench-serving", seed=seed).uri
        for seed in (0, 1)
    )
    return _run("-m", "bench.bench_serving", "--model-uri", one, "--second-model-uri", two)


def _rollout() -> int:
    return _run("-m", "bench.bench_rollout")


RUNNERS = {"training": _training, "serving": _serving, "rollout": _rollout}

if __name__ == "__main__":
    raise SystemExit(main())
