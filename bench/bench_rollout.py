"""Rollout benchmark: time from fault onset to candidate weight 0 on the gateway, with the shipped canary spec.

    eval "$(python -m cluster env)"
    python -m bench.bench_rollout [--runs 3] [--rps 20] [--spec configs/rollouts/canary.yaml]

It registers, under a model of its own, a good iris version (the champion) and an honestly broken one (it loads
and passes the replica health check, then fails on every real input), serves the champion alone behind the
gateway, and runs `--runs` real canaries of the broken version with the rollout driver (Serve REST router, the
gateway's stats, the MLflow registry) while steady traffic goes to the gateway.

A watcher polls the gateway's applied policy (`GET /-/rayship/policy`, cluster token): fault onset is the first
poll showing the candidate at a weight above 0 (from then on user traffic reaches the broken version), the end
the first later poll showing it at 0. The event log's advance -> rollback interval is reported beside it. Goal:
<= 10 s. Failed user requests are counted too (the shipped spec has failover on). Only the warm window (how long
the rolled-back app stays deployed, after the figure) is shortened.

It replaces the cluster's Serve applications while it runs and puts the previous ones back at the end.
Results go to `bench/results/rollout-<time>.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.serve_admin import ServeAdmin, gateway_app, policy_of, policy_weights, version_app
from deployments.app_config import GATEWAY_APP
from rayship.lease import LeaseFile, local_holder_alive, local_owner_id
from rollout.adapters.metrics_source import GatewayStatsSource
from rollout.adapters.routers.serve_rest import ServeRestRouter
from rollout.clock import SystemClock
from rollout.core.spec import RolloutSpec
from rollout.driver import RolloutDriver
from rollout.persistence.history import Progress
from rollout.persistence.store import AppliedEvent, RolloutStore
from rollout.spec_file import load_spec

BENCH_DIR = Path(__file__).resolve().parent
SPEC = BENCH_DIR.parent / "configs" / "rollouts" / "canary.yaml"
MODEL = "iris-bench-rollout"
ROWS = ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5])
GOAL_S = 10.0
SENDERS = 4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_rollout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="canaries of the broken version, one after another")
    parser.add_argument("--rps", type=float, default=20.0, help="steady user requests per second to the gateway")
    parser.add_argument("--spec", type=Path, default=SPEC, help="rollout spec (the shipped canary by default)")
    parser.add_argument("--warm-window-s", type=float, default=2.0, help="replaces the spec's warm window")
    parser.add_argument("--poll-s", type=float, default=0.1, help="how often the watcher reads the gateway policy")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the slowest run misses the goal")
    return parser.parse_args(argv)


# --- pure: what the samples say ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultWindow:
    onset_s: float  # first sample with the candidate above weight 0
    weight_0_s: float  # first later sample with it at 0
    resolution_s: float  # each transition happened after the sample before it: the larger of those two gaps

    @property
    def seconds(self) -> float:
        return self.weight_0_s - self.onset_s


def fault_window(samples: list[tuple[float, int]]) -> FaultWindow | None:
    """The fault window in (time, candidate weight) samples in time order; None when the candidate never got
    traffic or never went back to 0."""
    onset = next((i for i, (_, weight) in enumerate(samples) if weight > 0), None)
    if onset is None:
        return None
    back = next((i for i in range(onset + 1, len(samples)) if samples[i][1] == 0), None)
    if back is None:
        return None
    gaps = [samples[i][0] - samples[i - 1][0] for i in (onset, back) if i > 0]
    return FaultWindow(samples[onset][0], samples[back][0], max(gaps, default=0.0))


def summarise(seconds: list[float], goal_s: float = GOAL_S) -> dict:
    """Each figure, the median and the maximum, and whether the worst met the goal."""
    return {
        "each_s": [round(s, 2) for s in seconds],
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
        "goal_s": goal_s,
        "goal_met": max(seconds) <= goal_s,
    }


# --- live: traffic and the policy watcher ------------------------------------------------------------------


class Every:
    """Calls `tick` every `period_s` on a daemon thread while the with-block runs (a slow tick delays the next
    one; calls never pile up)."""

    def __init__(self, period_s: float, tick: Callable[[], None]) -> None:
        self.period_s, self.tick = period_s, tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Every:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.tick()
            next_at = max(next_at + self.period_s, time.monotonic())
            self._stop.wait(next_at - time.monotonic())


class UserTraffic:
    """Predictions as users send them (from several senders), counted by (status, x-model-version); status 0 is
    no answer at all."""

    def __init__(self, serve_url: str, model: str) -> None:
        self.url = f"{serve_url}/v1/models/{model}:predict"
        self.client = httpx.Client(timeout=30)
        self.answers: Counter[tuple[int, str]] = Counter()
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def tick(self) -> None:
        row = ROWS[self.sent % len(ROWS)]
        try:
            answer = self.client.post(self.url, json={"instances": [row]})
            version, status, failure = answer.headers.get("x-model-version", ""), answer.status_code, answer.text
        except httpx.HTTPError as exc:
            version, status, failure = "", 0, f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.answers[(status, version)] += 1
            if status != 200:
                self.failures.append(f"{status} v{version}: {failure[:200]}")

    @property
    def sent(self) -> int:
        return sum(self.answers.values())


class PolicyWatcher:
    """Samples the candidate's weight in the gateway's applied policy, on the driver's clock (Unix seconds)."""

    def __init__(self, admin: ServeAdmin, model: str, candidate: str) -> None:
        self.admin, self.model, self.candidate = admin, model, candidate
        self.samples: list[tuple[float, int]] = []

    def tick(self) -> None:
        view = self.admin.policy()
        if view is not None:
            self.samples.append((time.time(), policy_weights(view, self.model).get(self.candidate, 0)))


# --- one canary ---------------------------------------------------------------------------------------------


def run_canary(admin: ServeAdmin, spec: RolloutSpec, candidate: str, rps: float, poll_s: float) -> dict:
    """One canary of the broken candidate under steady traffic; its figures."""
    from rollout.adapters.mlflow_registry import MlflowRolloutRegistry  # MLflow is imported by the live part only

    traffic = UserTraffic(admin.settings.serve_url, MODEL)
    watcher = PolicyWatcher(admin, MODEL, candidate)
    decisions: list[Progress] = []
    with tempfile.TemporaryDirectory(prefix="rayship-bench-rollout-") as state_dir:
        store = RolloutStore(Path(state_dir), MODEL)
        driver = RolloutDriver(
            model=MODEL,
            spec=spec,
            router=ServeRestRouter(admin.settings.dashboard_url, admin.token, SystemClock()),
            metrics=GatewayStatsSource(admin.settings.serve_url, admin.token),
            store=store,
            lease=LeaseFile(Path(state_dir), MODEL),
            clock=SystemClock(),
            owner=local_owner_id(uuid.uuid4().hex[:8]),
            registry=MlflowRolloutRegistry(),
            on_progress=decisions.append,
            holder_alive=local_holder_alive,
        )
        started = time.monotonic()
        with contextlib.ExitStack() as running:
            for _ in range(SENDERS):  # one slow answer must not hold the rate down
                running.enter_context(Every(SENDERS / rps, traffic.tick))
            running.enter_context(Every(poll_s, watcher.tick))
            final = driver.run(candidate)
        duration_s = time.monotonic() - started
        events = store.events()
    window = fault_window(watcher.samples)
    applied = {event.action: event.applied_at_s for event in events if event.error is None}
    return {
        "rollout_id": final.rollout_id,
        "phase": final.phase.value,
        "message": final.message,
        "actions": [f"{event.action}:{event.candidate_weight}" for event in events],
        "onset_to_weight_0_s": None if window is None else window.seconds,
        "watcher_resolution_s": None if window is None else window.resolution_s,
        "event_log_advance_to_rollback_s": (
            applied["rollback"] - applied["advance"] if {"advance", "rollback"} <= applied.keys() else None
        ),
        "timeline_s": [] if window is None else timeline(window.onset_s, decisions, events, window.weight_0_s),
        "user_requests": traffic.sent,
        "user_requests_per_s": traffic.sent / duration_s,
        "failed_user_requests": len(traffic.failures),
        "answers": {f"{status} v{version}": n for (status, version), n in sorted(traffic.answers.items())},
        "failures": traffic.failures[:20],
    }


def timeline(onset_s: float, decisions: list[Progress], events: list[AppliedEvent], weight_0_s: float) -> list[str]:
    """Where the time went, in seconds since onset: each analysed window, each step decided and applied."""
    moments = [(weight_0_s - onset_s, "gateway policy gives the candidate weight 0")]
    for record in decisions:
        observation = record.observation
        if observation is None or record.state.interval_started_at_s < observation.collected_at_s:
            continue  # a look before the window was over, not an analysis
        window = observation.window(record.state.candidate)
        start_s, end_s = (
            observation.collected_at_s - observation.window_s - onset_s,
            observation.collected_at_s - onset_s,
        )
        what = f"window from {start_s:.2f}: {window.errors}/{window.requests} candidate errors -> {record.action}"
        moments.append((end_s, what))
    for event in events:
        moments.append((event.decided_at_s - onset_s, f"{event.action} {event.candidate_weight}% decided"))
        moments.append((event.applied_at_s - onset_s, f"{event.action} {event.candidate_weight}% recorded"))
    return [f"{at_s:7.2f} {what}" for at_s, what in sorted(moments)]


def serve_champion_alone(admin: ServeAdmin, champion_version: str, champion_uri: str) -> None:
    champion = version_app(MODEL, champion_version, champion_uri)
    admin.deploy([gateway_app(policy_of(MODEL, [(champion_version, 100)])), champion])
    admin.wait_running([GATEWAY_APP, champion["name"]])
    admin.wait_routes(MODEL, {champion_version: 100}, timeout_s=300)
    admin.wait_ready(MODEL, timeout_s=300)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from scripts.example_models import register_broken, register_iris

    spec = load_spec(args.spec).model_copy(update={"warm_window_s": args.warm_window_s})
    admin = ServeAdmin()
    print(f"registering a good and a broken version of '{MODEL}' ...", flush=True)
    champion = register_iris(MODEL, experiment="bench-rollout", sweep_id="bench-rollout")
    broken = register_broken(MODEL, experiment="bench-rollout", sweep_id="bench-rollout")
    previous = admin.current_apps()
    load_before, runs = list(os.getloadavg()), []
    try:
        serve_champion_alone(admin, champion.version, champion.uri)
        for number in range(1, args.runs + 1):
            print(
                f"canary {number}/{args.runs}: {MODEL} {champion.version} -> {broken.version} (broken) ...", flush=True
            )
            runs.append(run_canary(admin, spec, broken.version, args.rps, args.poll_s))
            print(f"  {_line(runs[-1])}", *(f"    {moment}" for moment in runs[-1]["timeline_s"]), sep="\n", flush=True)
    finally:
        admin.deploy(previous)
    figures = [run["onset_to_weight_0_s"] for run in runs if run["onset_to_weight_0_s"] is not None]
    results = {
        "spec": str(args.spec),
        "interval_s": spec.interval_s,
        "threshold": spec.threshold,
        "rps": args.rps,
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "runs": runs,
        "onset_to_weight_0": summarise(figures) if figures else None,
        "failed_user_requests": sum(run["failed_user_requests"] for run in runs),
    }
    report(results)
    out = BENCH_DIR / "results" / f"rollout-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {out}")
    measured = len(figures) == len(runs) > 0
    return 0 if measured and (results["onset_to_weight_0"]["goal_met"] or not args.strict) else 1


def _line(run: dict) -> str:
    figure = run["onset_to_weight_0_s"]
    logged = run["event_log_advance_to_rollback_s"]
    return (
        f"{run['phase']}: onset -> weight 0 {_s(figure)} (+-{_s(run['watcher_resolution_s'])}; event log "
        f"{_s(logged)}), {run['failed_user_requests']}/{run['user_requests']} user requests failed "
        f"({run['user_requests_per_s']:.1f}/s); {' '.join(run['actions'])}"
    )


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.1f} s"


def report(results: dict) -> None:
    summary = results["onset_to_weight_0"]
    conditions = f"interval {results['interval_s']} s, threshold {results['threshold']}, {results['rps']:g} req/s"
    print(f"\nfault onset -> candidate weight 0 ({results['spec']}: {conditions})")
    if summary is None:
        print("  no run reached weight 0 after onset")
    else:
        each = ", ".join(f"{s:.1f}" for s in summary["each_s"])
        verdict = "met" if summary["goal_met"] else "MISSED"
        figures = f"each: {each} s; median {summary['median_s']:.1f} s; max {summary['max_s']:.1f} s"
        print(f"  {figures}  [goal <= {summary['goal_s']:g} s: {verdict}]")
    print(f"  failed user requests (failover on): {results['failed_user_requests']}")
    before, after = (
        " ".join(f"{x:.2f}" for x in results[key]) for key in ("load_average_before", "load_average_after")
    )
    print(f"  load average (1, 5, 15 min): {before} before, {after} after")


if __name__ == "__main__":
    raise SystemExit(main())
