"""The memory of the whole local stack: PSS (proportional set size) summed over every process of the cluster's
sessions, by role. PSS divides each shared page among the processes mapping it, so the roles add up to what the
stack really takes (RSS would count the Ray workers' shared libraries once per process).

    python -m bench.memory                       # the cluster in the environment, as it is
    python -m bench.memory --deploy URI1,URI2    # first deploy one model's two versions + the gateway, as the
                                                 # target is stated: one replica each (the previous apps come back)

Processes are found like `python -m cluster status` finds them: the session of each service `cluster up` started.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from bench.cpu_meter import SERVING_ROLES

MIB = 1024 * 1024
SETTLE_S = 10.0  # replicas finish loading and the first health checks and metric pushes have run
TARGET_MIB = 1536  # `make up` + one model with two versions (one replica each) + the gateway
# First match wins; the Serve roles' markers are the CPU meter's.
ROLES = (
    ("version replicas", SERVING_ROLES["version"]),
    ("gateway replicas", SERVING_ROLES["gateway"]),
    ("other Serve replicas", ("ServeReplica:",)),
    ("Serve control (controller, proxy, HAProxy)", ("ServeController", "HAProxyManager", *SERVING_ROLES["ingress"])),
    ("rayship actors (stats aggregator, monitor)", ("ray::MetricsAggregator", *SERVING_ROLES["monitor"])),
    ("MLflow server", ("mlflow", "huey")),
    ("Ray (GCS, raylet, dashboard, agents, idle workers)", ("",)),
)


def role_of(cmdline: str) -> str:
    return next(role for role, markers in ROLES if any(marker in cmdline for marker in markers))


def pss_bytes(pid: int) -> int:
    """The process's PSS from /proc/<pid>/smaps_rollup (0 when it ended or cannot be read)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def by_role(pids: Iterable[int]) -> dict[str, dict[str, float]]:
    """role -> {"processes": count, "pss_mib": total}, plus "total"."""
    out: dict[str, dict[str, float]] = {}
    for pid in pids:
        try:
            cmdline = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            continue
        row = out.setdefault(role_of(cmdline), {"processes": 0, "pss_mib": 0.0})
        row["processes"] += 1
        row["pss_mib"] += pss_bytes(pid) / MIB
    out["total"] = {
        "processes": sum(r["processes"] for r in out.values()),
        "pss_mib": sum(r["pss_mib"] for r in out.values()),
    }
    return {role: {"processes": r["processes"], "pss_mib": round(r["pss_mib"], 1)} for role, r in out.items()}


def stack_pids() -> list[int]:
    from cluster.processes import session_members
    from cluster.settings import settings_from_env
    from cluster.state import load_state

    state = load_state(settings_from_env().state_dir)
    if state is None:
        raise RuntimeError("no local cluster is up: `make up` first")
    return [pid for service in state.services for pid in session_members(service.pid)]


def table(roles: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'role':<52} {'processes':>9} {'PSS MiB':>9}"]
    for role, row in roles.items():
        lines.append(f"{role:<52} {row['processes']:>9} {row['pss_mib']:>9.1f}")
    return lines


def even_weights(count: int) -> list[int]:
    share, rest = divmod(100, count)
    return [share + rest] + [share] * (count - 1)


def measure_with(uris: list[str]) -> dict[str, dict[str, float]]:
    """Deploy the versions `uris` (pinned, one model) at equal weights behind the gateway, one replica each, let
    them settle, measure, then put the cluster's previous applications back."""
    from bench.serve_admin import ServeAdmin, gateway_app, policy_of, version_app
    from deployments.app_config import GATEWAY_APP
    from registry.api import resolve

    admin = ServeAdmin()
    previous = admin.current_apps()
    pinned = [resolve(uri) for uri in uris]
    name = pinned[0].name
    apps = [version_app(p.name, p.version, p.uri) for p in pinned]
    weights = list(zip([p.version for p in pinned], even_weights(len(pinned)), strict=True))
    try:
        admin.deploy([gateway_app(policy_of(name, weights)), *apps])
        admin.wait_only([GATEWAY_APP, *(app["name"] for app in apps)])
        admin.wait_ready(name)
        time.sleep(SETTLE_S)
        return by_role(stack_pids())
    finally:
        admin.deploy(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--deploy", help="comma-separated pinned models:/<name>/<N> of one model to deploy first")
    parser.add_argument("--results-dir", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    try:
        roles = measure_with(args.deploy.split(",")) if args.deploy else by_role(stack_pids())
    except RuntimeError as error:
        print(f"bench.memory: {error}", file=sys.stderr)
        return 2
    print("\n".join(table(roles)))
    total = roles["total"]["pss_mib"]
    verdict = "met" if total <= TARGET_MIB else "NOT met"
    print(f"\nwhole stack {total:.0f} MiB PSS, target <= {TARGET_MIB} MiB: {verdict}")
    if args.results_dir:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / f"memory-{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.write_text(json.dumps({"deployed": args.deploy, "target_mib": TARGET_MIB, "roles": roles}, indent=2))
        print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
