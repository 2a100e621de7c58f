"""What monitoring costs: the gateway's throughput with every predicted row binned into the version's reference
profile (the default) against the same models with monitoring off, side by side in one run.

    python -m bench.bench_monitoring            # needs the local cluster (`make up`) and wrk

The peers' two reference models (30 features) are registered twice, as `bench-mon-<model>` (monitoring on) and
`bench-mon-off-<model>` (`monitoring: false` in the version app's args, `record_predictions: false` in the
gateway's policy), all four served behind one gateway, the
whole cluster pinned to the server core and wrk to the other, as `bench_peers` runs them. Runs interleave (repeat,
model, variant); the ratio is the median over repeats of on / off measured back to back, the table's figures
medians over the repeats. Target: on / off >= 0.97 at 16 connections.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench import cpu_meter
from bench.bench_serving import cluster_session, combine, probe
from bench.peers.load import missing_tools, run_wrk, write_script
from bench.peers.rayship import pin_cluster, policy, register_reference
from bench.peers.server import LOAD_CPU, SERVER_CPU
from bench.reference_models import load_reference_models
from bench.serve_admin import ServeAdmin, gateway_app
from deployments import app_config

BENCH_DIR = Path(__file__).resolve().parent
PREFIX = "bench-mon-"
VARIANTS = {"on": True, "off": False}
TARGET = 0.97


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_monitoring", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per cell; medians reported")
    parser.add_argument("--duration-s", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".peers")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if missing := missing_tools():
        print(f"bench_monitoring: {' and '.join(missing)} not installed (`make bench` installs them)")
        return 2
    models = load_reference_models(args.work_dir / "models")
    scripts = {name: write_script(model, args.work_dir / "wrk") for name, model in models.items()}
    admin = ServeAdmin()
    previous = admin.current_apps()
    try:
        urls = start(admin, models)
        runs = measure(urls, scripts, args)
    finally:
        pin_cluster(set(range(os.cpu_count() or 1)))
        admin.deploy(previous)
    results = {key: combine(rows) for key, rows in runs.items()}
    ratios = {name: paired_ratio(runs[f"{name} on"], runs[f"{name} off"]) for name in models}
    cpu_ratios = {name: cpu_ratio(results[f"{name} on"], results[f"{name} off"]) for name in models}
    print_table(results, ratios, cpu_ratios, args.connections)
    out = args.results_dir / f"monitoring-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    conditions = {"repeats": args.repeats, "duration_s": args.duration_s, "connections": args.connections}
    document = {"conditions": conditions, "results": results, "ratios": ratios, "cpu_ratios": cpu_ratios}
    out.write_text(json.dumps(document, indent=2))
    print(f"\nresults: {out}")
    return 1 if any(row["non_2xx"] for row in results.values()) else 0


def start(admin: ServeAdmin, models: dict) -> dict[str, str]:
    """Register and serve every (model, variant); return the infer URL of each, keyed 'rf on', 'rf off', ..."""
    urls, apps, versions, unmonitored = {}, [], [], []
    for name, model in models.items():
        for variant, monitored in VARIANTS.items():
            prefix = PREFIX if monitored else f"{PREFIX}off-"
            pinned = register_reference(model, prefix=prefix)
            apps.append(
                app_config.version_app(
                    pinned.name,
                    pinned.version,
                    model_uri=pinned.uri,
                    deployment={"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.1}},
                    args={"monitoring": monitored},
                )
            )
            versions.append(pinned)
            if not monitored:
                unmonitored.append(pinned.name)
            urls[f"{name} {variant}"] = f"{admin.settings.serve_url}/v2/models/{pinned.name}/infer"
    gateway = policy(versions)
    for name in unmonitored:  # 'off' is off everywhere: no binning in the replicas, no predictions kept for labels
        gateway.models[name] = gateway.models[name].model_copy(update={"record_predictions": False})
    admin.deploy([*apps, gateway_app(gateway)])
    admin.wait_running([app_config.GATEWAY_APP, *(app["name"] for app in apps)])
    for pinned in versions:
        admin.wait_ready(pinned.name)
    pin_cluster({SERVER_CPU})
    return urls


def measure(urls: dict[str, str], scripts: dict[str, Path], args) -> dict[str, list[dict]]:
    """wrk runs per (model, variant), each with the serving processes' CPU milliseconds per request by role."""
    runs: dict[str, list[dict]] = {key: [] for key in urls}
    cpu = probe(cluster_session())
    for key, url in urls.items():  # warm-up, unrecorded
        run_wrk(url, scripts[key.split()[0]], args.connections, 3, LOAD_CPU)
    for repeat in range(1, args.repeats + 1):
        for key, url in urls.items():
            print(f"repeat {repeat}/{args.repeats}: {key} c={args.connections} ...", flush=True)
            before = cpu() if cpu else None
            row = run_wrk(url, scripts[key.split()[0]], args.connections, args.duration_s, LOAD_CPU)
            if before is not None:
                row["cpu_ms_per_request"] = cpu_meter.ms_per_request(before, cpu(), row["requests"])
            runs[key].append(row)
    return runs


def paired_ratio(on: list[dict], off: list[dict]) -> float:
    """The median over repeats of on / off measured back to back: the machine's slow drifts cancel in each pair."""
    return statistics.median(a["requests_per_s"] / b["requests_per_s"] for a, b in zip(on, off, strict=True))


def cpu_ratio(on: dict, off: dict) -> float | None:
    """Serving CPU per request off / on (every serving process, the monitor included): what the throughput ratio
    would be on a core the serving processes had to themselves, without the machine's noise."""
    spent_on, spent_off = (
        sum(on.get("cpu_ms_per_request", {}).values()),
        sum(off.get("cpu_ms_per_request", {}).values()),
    )
    return spent_off / spent_on if spent_on and spent_off else None


def print_table(
    results: dict[str, dict], ratios: dict[str, float], cpu_ratios: dict[str, float | None], connections: int
) -> None:
    print(f"\n{'model monitoring':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  CPU ms per request by process role")
    for key, row in results.items():
        cpu = ", ".join(f"{role} {ms:.3f}" for role, ms in sorted(row.get("cpu_ms_per_request", {}).items()))
        print(f"{key:<18} {row['requests_per_s']:>8.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}  {cpu}")
    for name, ratio in ratios.items():
        verdict = "met" if ratio >= TARGET else "NOT met"
        cpu = f"{cpu_ratios[name]:.3f}" if cpu_ratios.get(name) else "not measured"
        print(
            f"monitoring on / off, {name}, c={connections}: throughput {ratio:.3f} (target >= {TARGET}: {verdict}); "
            f"serving CPU per request off / on {cpu}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
