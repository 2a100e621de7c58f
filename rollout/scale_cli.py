"""`rayship scale`: size one model version's app through the Serve REST API, or show how it is sized.

    rayship scale --model iris --version 2 --replicas 3         # fixed: 3 replicas, no autoscaling
    rayship scale --model iris --version 2 --min 1 --max 3      # autoscale within 1-3 (other autoscaling fields kept)
    rayship scale --model iris --version 2 --max 5 --target-ongoing-requests 0.5
    rayship scale --model iris --version 2                      # show: settings, what Serve applies, replicas

Two phases, like a rollout step: read the live config, compute the new one (`rollout.scaling`, pure), write it and
wait until the app is RUNNING on it, then until the deployment has the replicas the new sizing asks for. Addresses
come from `eval "$(python -m cluster env)"`.

A rollout driver's lease on the model (`--state-dir`, as `python -m rollout` uses) refuses a scale unless
`--force`: a rollout's candidate app is started sized like the champion's (`serve_edits.candidate_app`), so scaling
either mid-rollout changes what the rollout compares, and both write the whole Serve config. Without a driver, the
scale holds that lease itself while it writes, so no rollout starts from the config it is replacing.

Exit codes: 0 scaled, shown or nothing to change; 2 bad input (unknown model, version or app, a nonsensical size,
missing setting); 3 refused or unreachable (a rollout holds the lease, a version the policy relies on would scale
to zero, the replicas did not come, the dashboard is down).
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deployments.app_config import VERSION_DEPLOYMENT
from rayship.cluster_token import read_cluster_token
from rayship.errors import LeaseHeldError, RayshipError
from rayship.lease import LeaseFile, local_holder_alive, local_owner_id
from rollout import environment, serve_file
from rollout.adapters.routers.serve_rest import ServeRestRouter, config_from_details, statuses_from_details
from rollout.clock import Clock, SystemClock
from rollout.errors import ReplicasNotReadyError, ScaleDuringRolloutError, ScaleOverwrittenError
from rollout.exit_codes import OK, parse_or_exit_code, reported
from rollout.live_config import live_config_dict, parse_live_config
from rollout.scaling import (
    ReplicaTarget,
    ScaleRequest,
    deployed_sizing,
    deployment_entry,
    describe_applied,
    describe_counts,
    describe_sizing,
    policy_role,
    replica_counts,
    scale_request,
    scaled,
    scaling_notes,
    sizing_of,
    version_app,
    version_details,
)

POLL_INTERVAL_S = 1.0
LEASE_MARGIN_S = 60.0  # the lease outlives the write's own wait for RUNNING


class ServeDetailsRouter(ServeRestRouter):
    """The Serve REST router, and the instance details (replicas per deployment) `serve status` shows."""

    def details(self) -> dict[str, Any]:
        return self._details()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rayship scale",
        description="Set a model version's replicas (fixed, or autoscaling bounds), or show them without a size.",
    )
    parser.add_argument("--model", required=True, help="model name, as in the gateway policy")
    parser.add_argument("--version", required=True, help="version listed in the model's gateway policy, e.g. 2")
    sizes = parser.add_argument_group("sizes (none: show the current sizing and replicas)")
    sizes.add_argument("--replicas", type=int, metavar="N", help="run exactly N replicas (autoscaling off)")
    sizes.add_argument("--min", dest="min_replicas", type=int, metavar="N", help="autoscaling min_replicas")
    sizes.add_argument("--max", dest="max_replicas", type=int, metavar="N", help="autoscaling max_replicas")
    sizes.add_argument(
        "--target-ongoing-requests", type=float, metavar="X", help="autoscaling target ongoing requests per replica"
    )
    parser.add_argument("--force", action="store_true", help="scale even while a rollout driver holds the lease")
    parser.add_argument(
        "--timeout-s", type=float, default=180.0, help="wait this long for RUNNING, then as long for the replicas"
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".rayship/rollouts"), help="rollout state (leases)")
    serve_file.add_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_or_exit_code(build_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        request = scale_request(
            args.model, args.version, args.replicas, args.min_replicas, args.max_replicas, args.target_ongoing_requests
        )
        router, clock = connect(args.timeout_s)
        if request is None:
            show(router, args.model, args.version)
            return OK
        return scale(args, request, router, clock)
    except RayshipError as exc:
        return reported(exc)


def connect(timeout_s: float) -> tuple[ServeDetailsRouter, Clock]:
    clock = SystemClock()
    dashboard = environment.required(environment.DASHBOARD)
    return ServeDetailsRouter(dashboard, read_cluster_token(), clock, timeout_s=timeout_s), clock


def scale(args: argparse.Namespace, request: ScaleRequest, router: ServeDetailsRouter, clock: Clock) -> int:
    plan = scaled(router.applied(), args.model, args.version, request)  # refusals come before any lease or write
    if not plan.changed:
        counts = replica_counts(router.details(), plan.app_name)
        print(f"{plan.app_name} {VERSION_DEPLOYMENT}: already {describe_sizing(plan.after)}; nothing to change")
        print(f"{plan.app_name} {VERSION_DEPLOYMENT}: {describe_counts(counts)}")
        return OK
    lease = LeaseFile(args.state_dir, args.model)
    owner = _take_lease(lease, args, clock)
    try:
        plan = scaled(router.applied(), args.model, args.version, request)  # again, now that no rollout can start
        print(f"{plan.app_name} {VERSION_DEPLOYMENT}: {describe_sizing(plan.before)} -> {describe_sizing(plan.after)}")
        if plan.changed:
            file = serve_file.chosen(args)
            if file is not None:
                file.check(plan.config, args.model)  # a file it could not keep in step is refused before the write
            router.write_config(live_config_dict(plan.config), [plan.app_name])
            print(f"{plan.app_name}: RUNNING on the new settings")
            if file is not None:
                file.sync(router.applied(), args.model)
    finally:
        if owner is not None:
            lease.release(owner)
    for note in scaling_notes(plan):
        print(f"note: {note}")
    counts = wait_for_replicas(
        router.details, plan.app_name, plan.after, plan.target, clock, args.timeout_s, POLL_INTERVAL_S, print
    )
    print(f"Scaled {plan.app_name}: {describe_counts(counts)}")
    return OK


def show(router: ServeDetailsRouter, model: str, version: str) -> None:
    """The version app's replica settings (as configured, and as Serve applies them) and its replicas by state."""
    details = router.details()
    config = parse_live_config(config_from_details(details))
    app = version_app(config, model, version)
    deployment = version_details(details, app.name)
    status = statuses_from_details(details).get(app.name, "NOT_STARTED")
    role = policy_role(config.policy(model), version)
    print(f"{app.name}: version '{version}' of model '{model}' ({role}), {status}")
    print(f"  configured: {describe_sizing(sizing_of(deployment_entry(app)))}")
    print(f"  applied:    {describe_applied(deployment.get('deployment_config'))}")
    target = deployment.get("target_num_replicas")
    scaling = (deployment.get("autoscaling_detail") or {}).get("scaling_status")
    if target is not None:
        print(f"  target:     {target} replica{'' if target == 1 else 's'}" + (f", {scaling}" if scaling else ""))
    print(f"  replicas:   {describe_counts(replica_counts(details, app.name))}")


def wait_for_replicas(
    read_details: Callable[[], dict[str, Any]],
    app_name: str,
    expected: dict[str, Any],
    target: ReplicaTarget,
    clock: Clock,
    timeout_s: float,
    poll_s: float,
    say: Callable[[str], None],
) -> Counter[str]:
    """Poll the instance details until the app's `ModelVersion` has `target` RUNNING replicas; say each change of
    the replica counts. Raise when the time is up, or when the config no longer holds the sizing that was written
    (another writer replaced it)."""
    deadline = clock.now() + timeout_s
    last = None
    while True:
        details = read_details()
        now = deployed_sizing(details, app_name)
        if now != expected:
            gone = now is None
            raise ScaleOverwrittenError(app_name, "the application is gone" if gone else describe_sizing(now))
        counts = replica_counts(details, app_name)
        line = describe_counts(counts)
        if line != last:
            say(f"{app_name} {VERSION_DEPLOYMENT}: {line} (want {target.describe()})")
            last = line
        if target.reached(counts):
            return counts
        if clock.now() >= deadline:
            raise ReplicasNotReadyError(app_name, VERSION_DEPLOYMENT, target.describe(), timeout_s, line)
        clock.sleep(poll_s)


def _take_lease(lease: LeaseFile, args: argparse.Namespace, clock: Clock) -> str | None:
    """Hold the model's rollout lease for the write (its owner id), or None when `--force` goes past a driver's."""
    owner = local_owner_id(f"scale-{uuid.uuid4().hex[:8]}")
    now_s = clock.now()
    try:
        lease.acquire(owner, args.timeout_s + LEASE_MARGIN_S, now_s, holder_alive=local_holder_alive)
    except LeaseHeldError as held:
        current = lease.read()
        expires_in_s = current.expires_at_s - now_s if current is not None else 0.0
        if not args.force:
            raise ScaleDuringRolloutError(args.model, held.holder, expires_in_s) from held
        print(
            f"warning: rollout driver '{held.holder}' holds the lease of model '{args.model}'; scaling anyway "
            "(--force): its candidate and champion no longer run alike"
        )
        return None
    return owner
