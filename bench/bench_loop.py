"""How long the closed loop takes on this machine, stage by stage, each beside the bound its configuration implies.

    python -m bench.bench_loop            # needs the local cluster (`make up`) with its Prometheus

A model of its own (`bench-loop`, a LogisticRegression on iris, the champion) is served behind the gateway with a
small monitoring window; its alert rules are added to the local Prometheus for the run. Then traffic shifted on one
feature starts (with labels), and `python -m monitoring watch --exit-after-cycle` runs the loop once:

    drift onset -> alert firing     bound: two windows + the rule's for: + one evaluation interval
    alert -> job submitted          bound: hold_s + three polls of the trigger (one to read the alert, one more when
                                    it fired just after a poll read, one for the submission's round trip)
    job submitted -> registered     bound: the sweep's time budget + 30 s to start the job and register
    registered -> canary decided    bound: 60 s to deploy the version + (steps + 1) x the canary's interval

"Firing" is read from Prometheus' alerts API every 0.5 s; the other instants are the steps the trigger recorded on
the registered model. Results go to `bench/results/loop.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from bench.serve_admin import ServeAdmin, gateway_app, policy_of, version_app
from cluster.prometheus_files import write_prometheus_files
from monitoring.retrain.alerts_api import read_alerts
from monitoring.retrain.lineage import load_cycles
from monitoring.spec import AlertSpec, LabelSpec, MonitorSpec, RetrainSpec, WindowSpec
from registry import tags
from registry.catalog import set_alias, set_model_tag
from registry.connection import connect
from scripts.demo_steps import fresh_data
from scripts.example_models import register_iris

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
MODEL = "bench-loop"
SHIFT = {"petal length (cm)": 2.5}
RPS = 20.0
POLL_S = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".loop")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up on the loop after this long")
    return parser.parse_args(argv)


def monitor_spec(work: Path) -> MonitorSpec:
    return MonitorSpec(
        model=MODEL,
        window=WindowSpec(rows=300, seconds=120, bucket_s=1),
        min_rows=100,
        labels=LabelSpec(min_labels=20, window=WindowSpec(rows=1000, seconds=600, bucket_s=5)),
        alerts=AlertSpec(for_s=10),
        retrain=RetrainSpec(
            training_spec=work / "sweep.yaml",
            data=str(work / "fresh.csv"),
            cooldown_s=0,
            auto_rollout="canary",
        ),
    )


def sweep_spec(work: Path) -> dict:
    """The iris sweep, registering into the benchmark's model."""
    spec = yaml.safe_load((REPO / "configs" / "training" / "iris-sklearn.yaml").read_text())
    spec.update({"model_name": MODEL, "experiment": MODEL, "num_samples": 4, "time_budget_s": 60})
    (work / "sweep.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec


def canary_spec() -> dict:
    return yaml.safe_load((REPO / "configs" / "rollouts" / "canary.yaml").read_text())


def bounds(spec: MonitorSpec, sweep: dict, canary: dict, eval_interval_s: float) -> dict[str, float]:
    window_s = min(spec.window.rows / RPS, spec.window.seconds)
    assert spec.retrain is not None
    return {
        "onset_to_firing": 2 * window_s + spec.alerts.for_s + eval_interval_s,
        "firing_to_submitted": spec.retrain.hold_s + 3 * POLL_S,
        "submitted_to_registered": float(sweep["time_budget_s"]) + 30.0,
        "registered_to_decided": 60.0 + (len(canary["step_weights"]) + 1) * float(canary["interval_s"]),
    }


def setup(admin: ServeAdmin, spec: MonitorSpec, work: Path) -> None:
    pinned = register_iris(MODEL, experiment=MODEL, sweep_id="bench-loop")
    set_alias(MODEL, "champion", pinned.version)
    set_model_tag(MODEL, tags.MONITORING_SPEC, spec.model_dump_json())
    admin.deploy(
        [gateway_app(policy_of(MODEL, [(pinned.version, 100)])), version_app(MODEL, pinned.version, pinned.uri)]
    )
    admin.wait_ready(MODEL)
    fresh_data(SHIFT, 600, str(work / "fresh.csv"))


def reload_rules(admin: ServeAdmin, extra: list[MonitorSpec]) -> None:
    write_prometheus_files(admin.settings, extra_specs=extra)
    httpx.post(f"{admin.settings.prometheus_url}/-/reload", timeout=10).raise_for_status()


def first_firing(prometheus_url: str, deadline: float) -> float | None:
    while time.time() < deadline:
        try:
            alerts = read_alerts(prometheus_url)
        except Exception:  # noqa: BLE001 - a missed poll only delays the reading
            alerts = []
        if any(a.state == "firing" and a.labels.get("model") == MODEL for a in alerts):
            return time.time()
        time.sleep(0.5)
    return None


def start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def run_loop(admin: ServeAdmin, spec: MonitorSpec, work: Path, timeout_s: float) -> dict[str, float]:
    shift = [arg for name, delta in SHIFT.items() for arg in ("--shift", f"{name}={delta}")]
    traffic_cmd = ["-m", "scripts.demo_steps", "traffic", "--model", MODEL, "--rps", str(RPS), "--duration-s"]
    watch_cmd = ["-m", "monitoring", "watch", "--model", MODEL, "--spec", str(work / "spec.yaml")]
    watch_cmd += ["--exit-after-cycle", "--interval-s", str(POLL_S), "--state-dir", str(work)]
    onset = time.time()
    traffic = start([*traffic_cmd, str(timeout_s), *shift], work / "traffic.log")
    watch = start(watch_cmd, work / "watch.log")
    try:
        firing = first_firing(admin.settings.prometheus_url, onset + timeout_s)
        watch.wait(timeout=max(onset + timeout_s - time.time(), 1))
    finally:
        for process in (traffic, watch):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
    (cycle,) = [c for c in load_cycles(connect(), MODEL) if c.started_at_s >= onset]
    at = {step.step: step.at_s for step in cycle.steps}
    return {
        "onset": onset,
        "firing": firing or float("nan"),
        "submitted": at["submitted"],
        "registered": at.get("registered", float("nan")),
        "decided": at.get("verdict", float("nan")),
        "outcome": cycle.outcome,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work_dir.absolute()
    work.mkdir(parents=True, exist_ok=True)
    spec = monitor_spec(work)
    (work / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    sweep, canary = sweep_spec(work), canary_spec()
    admin = ServeAdmin()
    previous = admin.current_apps()
    try:
        reload_rules(admin, [spec])
        setup(admin, spec, work)
        times = run_loop(admin, spec, work, args.timeout_s)
    finally:
        reload_rules(admin, [])
        if previous:
            admin.deploy(previous)
    stages = {
        "onset_to_firing": times["firing"] - times["onset"],
        "firing_to_submitted": times["submitted"] - times["firing"],
        "submitted_to_registered": times["registered"] - times["submitted"],
        "registered_to_decided": times["decided"] - times["registered"],
    }
    limits = bounds(spec, sweep, canary, admin.settings.prometheus_interval_s)
    report(stages, limits, times["outcome"])
    args.results_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "stages_s": stages,
        "bounds_s": limits,
        "outcome": times["outcome"],
        "rps": RPS,
        "measured_at": times["onset"],
    }
    (args.results_dir / "loop.json").write_text(json.dumps(result, indent=2))
    within = all(stages[name] <= limits[name] for name in stages)
    return 0 if times["outcome"] == "promoted" and within else 1


def report(stages: dict[str, float], limits: dict[str, float], outcome: str | None) -> None:
    print(f"\nclosed loop of {MODEL} ({RPS:g} req/s shifted traffic with labels); outcome: {outcome}")
    print(f"{'stage':<26}{'measured s':>12}{'bound s':>10}")
    for name, seconds in stages.items():
        mark = "" if seconds <= limits[name] else "  OVER"
        print(f"{name:<26}{seconds:>12.1f}{limits[name]:>10.1f}{mark}")
    print(f"{'total':<26}{sum(stages.values()):>12.1f}{sum(limits.values()):>10.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
