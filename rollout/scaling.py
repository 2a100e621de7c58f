"""Sizing a version app's `ModelVersion` deployment: a fixed replica count or autoscaling bounds. Pure: the checks
and the edit of a parsed Serve config (`rollout.live_config.LiveConfig`), and reading replica counts out of the
Serve REST API's instance details; `rollout/scale_cli.py` does the I/O.

Both settings are Serve's lightweight options: changing them starts or stops replicas and restarts none (the app's
code version comes from its import_path, runtime_env and args, which stay as they were; docs/design.md, decision 1).

A fixed count writes `num_replicas: N` *and* `autoscaling_config: null`. Ray applies a config's deployment options
over the code's (`ModelVersion`'s decorator autoscales 1-2), and an autoscaling_config, from either, wins over
num_replicas: a config that only drops its autoscaling_config would go on autoscaling on the code's defaults.
Autoscaling bounds update the config's autoscaling_config in place (its other fields kept) and unset num_replicas.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import ServeApplicationSchema

from deployments.app_config import VERSION_DEPLOYMENT
from deployments.traffic_policy import ModelPolicy
from rollout.errors import AppNotFoundError, InvalidScaleError, ScaleRefusedError, VersionNotInPolicyError
from rollout.live_config import LiveConfig, parse_app
from rollout.serve_edits import with_version_app

# A guard against typos (`--max 300`): on rayship's small machines (docs/design.md, decision 9) such replicas would
# only wait for CPUs that are not there.
MAX_REPLICAS = 64
# The target a new autoscaling_config starts from, as `ModelVersion`'s decorator and configs/serve.yaml have it (a
# unit test checks the decorator). Not Ray's default of 2: a gateway keeps `calls_per_replica` (default 1) calls in
# flight per version replica, so ongoing requests per replica are the share of time it is busy, and rarely reach 2.
VERSION_TARGET_ONGOING_REQUESTS = 0.7
SIZING_KEYS = ("num_replicas", "autoscaling_config")
# Serve's replica states (`ray.serve._private.common.ReplicaState`), in the order a person reads them.
REPLICA_STATES = ("RUNNING", "STARTING", "UPDATING", "RECOVERING", "PENDING_MIGRATION", "STOPPING")
AUTOSCALING_ORDER = (
    "min_replicas",
    "max_replicas",
    "initial_replicas",
    "target_ongoing_requests",
    "upscale_delay_s",
    "downscale_delay_s",
)


@dataclass(frozen=True)
class FixedReplicas:
    """Run exactly this many replicas."""

    replicas: int


@dataclass(frozen=True)
class AutoscalingBounds:
    """Autoscale within these bounds; a None keeps what the config has."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    target_ongoing_requests: float | None = None


ScaleRequest = FixedReplicas | AutoscalingBounds


@dataclass(frozen=True)
class ReplicaTarget:
    """How many RUNNING replicas mean the new sizing is in force: `low` to `high`, both included."""

    low: int
    high: int

    def reached(self, counts: Counter[str]) -> bool:
        return self.low <= counts["RUNNING"] <= self.high

    def describe(self) -> str:
        if self.low == self.high:
            return f"{self.low} RUNNING replica" + ("" if self.low == 1 else "s")
        return f"{self.low} to {self.high} RUNNING replicas"


@dataclass(frozen=True)
class Scaled:
    """A sizing edit: the new config, the app it changes, and that deployment's sizing before and after."""

    config: LiveConfig
    app_name: str
    before: dict[str, Any]
    after: dict[str, Any]
    target: ReplicaTarget

    @property
    def changed(self) -> bool:
        return self.before != self.after


def scale_request(
    model: str,
    version: str,
    replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    target_ongoing_requests: float | None = None,
) -> ScaleRequest | None:
    """The request the command-line options make (None: only show), checked before anything is read."""
    bounds = (min_replicas, max_replicas, target_ongoing_requests)
    if replicas is not None:
        if any(value is not None for value in bounds):
            raise InvalidScaleError(
                model, version, "--replicas fixes the count; it cannot be combined with --min, --max or "
                "--target-ongoing-requests"
            )  # fmt: skip
        if replicas < 1:
            raise InvalidScaleError(
                model, version, f"--replicas must be at least 1, got {replicas} (only autoscaling scales to zero: "
                "--min 0)"
            )  # fmt: skip
        _check_cap(model, version, "--replicas", replicas)
        return FixedReplicas(replicas)
    if all(value is None for value in bounds):
        return None
    if min_replicas is not None and min_replicas < 0:
        raise InvalidScaleError(model, version, f"--min must be 0 or more, got {min_replicas}")
    if max_replicas is not None and max_replicas < 1:
        raise InvalidScaleError(model, version, f"--max must be at least 1, got {max_replicas}")
    for flag, value in (("--min", min_replicas), ("--max", max_replicas)):
        if value is not None:
            _check_cap(model, version, flag, value)
    if min_replicas is not None and max_replicas is not None and min_replicas > max_replicas:
        raise InvalidScaleError(model, version, f"min_replicas {min_replicas} is above max_replicas {max_replicas}")
    if target_ongoing_requests is not None and not target_ongoing_requests > 0:
        raise InvalidScaleError(
            model, version, f"--target-ongoing-requests must be above 0, got {target_ongoing_requests:g}"
        )
    return AutoscalingBounds(min_replicas, max_replicas, target_ongoing_requests)


def version_app(config: LiveConfig, model: str, version: str) -> ServeApplicationSchema:
    """The app the gateway policy names for a listed version; it must be in the config."""
    route = config.policy(model).route(version)
    if route is None:
        raise VersionNotInPolicyError(model, version)
    app = config.app(route.app)
    if app is None:
        raise AppNotFoundError(route.app)
    return app


def deployment_entry(app: ServeApplicationSchema) -> dict[str, Any] | None:
    """The app's `ModelVersion` entry as the config file has it (only the fields that are set), None without one."""
    entry = next((entry for entry in app.deployments if entry.name == VERSION_DEPLOYMENT), None)
    return entry.model_dump(mode="json", exclude_unset=True) if entry is not None else None


def sizing_of(entry: dict[str, Any] | None) -> dict[str, Any]:
    """The replica settings a deployment entry sets: `num_replicas` and `autoscaling_config`, where present."""
    return {key: entry[key] for key in SIZING_KEYS if key in (entry or {})}


def scaled(config: LiveConfig, model: str, version: str, request: ScaleRequest) -> Scaled:
    """The config with the version app's `ModelVersion` sized as requested, every other app and field as it was.
    Refuses a sizing that could leave a version the policy relies on without a replica."""
    app = version_app(config, model, version)
    entry = deployment_entry(app) or {"name": VERSION_DEPLOYMENT}
    before = sizing_of(entry)
    if isinstance(request, FixedReplicas):
        after: dict[str, Any] = {"num_replicas": request.replicas, "autoscaling_config": None}
        target = ReplicaTarget(request.replicas, request.replicas)
    else:
        autoscaling = _bounds(model, version, before.get("autoscaling_config"), request)
        _check_policy(config.policy(model), model, version, autoscaling["min_replicas"])
        after = {"autoscaling_config": autoscaling}
        target = ReplicaTarget(autoscaling["min_replicas"], autoscaling["max_replicas"])
    if after == before:
        return Scaled(config, app.name, before, after, target)
    sized = {key: value for key, value in entry.items() if key not in SIZING_KEYS} | after
    raw = app.model_dump(mode="json", exclude_unset=True)
    raw["deployments"] = _with_entry(raw.get("deployments", []), sized)
    return Scaled(with_version_app(config, parse_app(raw)), app.name, before, after, target)


def scaling_notes(plan: Scaled) -> list[str]:
    """What a person should know about a new sizing that is allowed: a version parked at zero replicas, and a
    target the gateway's calls may never reach."""
    notes = []
    if plan.target.low == 0:
        notes.append(
            f"with min_replicas 0 the gateway sends {plan.app_name} nothing, pinned requests included, while it has "
            "no RUNNING replica"
        )
    autoscaling = plan.after.get("autoscaling_config") or {}
    target = autoscaling.get("target_ongoing_requests")
    calls = plan.config.gateway.calls_per_replica
    if target is not None and target >= calls:
        notes.append(
            f"target_ongoing_requests {target:g} is not below the gateway's calls_per_replica ({calls}): a gateway "
            f"replica keeps at most {calls} call{'' if calls == 1 else 's'} in flight per version replica, so one "
            "gateway replica never makes it scale up"
        )
    return notes


def replica_counts(details: dict[str, Any], app_name: str) -> Counter[str]:
    """Replicas of the app's `ModelVersion` deployment by state, from `GET /api/serve/applications/`."""
    deployment = version_details(details, app_name)
    return Counter(replica.get("state", "UNKNOWN") for replica in deployment.get("replicas") or [])


def deployed_sizing(details: dict[str, Any], app_name: str) -> dict[str, Any] | None:
    """The replica settings of the app's `ModelVersion` as Serve has its config now; None when the app is gone."""
    app = (details.get("applications") or {}).get(app_name) or {}
    deployed = app.get("deployed_app_config")
    if deployed is None:
        return None
    entry = next((entry for entry in deployed.get("deployments") or [] if entry.get("name") == VERSION_DEPLOYMENT), {})
    return sizing_of(entry)


def describe_counts(counts: Counter[str]) -> str:
    """'2 RUNNING, 1 STARTING'; 'no replicas' when there are none."""
    states = [*REPLICA_STATES, *sorted(set(counts) - set(REPLICA_STATES))]
    parts = [f"{counts[state]} {state}" for state in states if counts[state]]
    return ", ".join(parts) or "no replicas"


def describe_sizing(sizing: dict[str, Any]) -> str:
    """One line for a deployment's replica settings as the Serve config has them."""
    autoscaling = sizing.get("autoscaling_config")
    if isinstance(autoscaling, dict):
        return "autoscaling " + describe_autoscaling(autoscaling)
    replicas = sizing.get("num_replicas")
    if replicas == "auto":
        return "num_replicas auto (Serve's default autoscaling)"
    if isinstance(replicas, int):
        return f"{replicas} replica{'' if replicas == 1 else 's'} (fixed)"
    return "not set in the Serve config (the code's defaults apply)"


def describe_autoscaling(autoscaling: dict[str, Any]) -> str:
    keys = [key for key in AUTOSCALING_ORDER if key in autoscaling]
    keys += sorted(key for key in autoscaling if key not in AUTOSCALING_ORDER)
    return ", ".join(f"{key} {autoscaling[key]}" for key in keys)


def policy_role(policy: ModelPolicy, version: str) -> str:
    """What the gateway policy does with a version: 'weight 90, champion, shadow target (10 %)'."""
    route = policy.route(version)
    parts = [f"weight {route.weight if route is not None else 0}"]
    if policy.champion_version == version:
        parts.append("champion")
    if policy.shadow is not None and policy.shadow.version == version and policy.shadow.percent:
        parts.append(f"shadow target ({policy.shadow.percent} %)")
    return ", ".join(parts)


def _bounds(model: str, version: str, current: Any, request: AutoscalingBounds) -> dict[str, Any]:
    """The autoscaling_config with the requested bounds and target, its other fields kept."""
    base = dict(current) if isinstance(current, dict) else {}
    if not base:
        if request.min_replicas is None or request.max_replicas is None:
            raise InvalidScaleError(
                model, version, "its Serve config has no autoscaling_config to update; give both --min and --max"
            )
        base = {"target_ongoing_requests": VERSION_TARGET_ONGOING_REQUESTS}
    updates = {
        "min_replicas": request.min_replicas,
        "max_replicas": request.max_replicas,
        "target_ongoing_requests": request.target_ongoing_requests,
    }
    autoscaling = base | {key: value for key, value in updates.items() if value is not None}
    low, high = autoscaling.get("min_replicas", 1), autoscaling.get("max_replicas", 1)
    autoscaling["min_replicas"], autoscaling["max_replicas"] = low, high
    if low > high:
        raise InvalidScaleError(model, version, f"min_replicas {low} is above max_replicas {high}")
    if "initial_replicas" in autoscaling:  # Ray refuses one outside the bounds; it only sizes a new deployment
        autoscaling["initial_replicas"] = min(max(autoscaling["initial_replicas"], low), high)
    try:
        AutoscalingConfig.model_validate(autoscaling)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'autoscaling_config'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False)
        )
        raise InvalidScaleError(model, version, f"autoscaling_config is invalid: {problems}") from exc
    return autoscaling


def _check_policy(policy: ModelPolicy, model: str, version: str, min_replicas: int) -> None:
    """Only a version that no request is sent to may scale to zero: the gateway calls a version only while it has
    a RUNNING replica, so a routed, failover or shadow target at zero replicas would fail its requests."""
    if min_replicas > 0:
        return
    route = policy.route(version)
    reasons = []
    if route is not None and route.weight > 0:
        reasons.append(f"has weight {route.weight} in the gateway policy")
    if policy.champion_version == version:
        reasons.append("is the champion (the failover target)")
    if policy.shadow is not None and policy.shadow.version == version and policy.shadow.percent:
        reasons.append(f"is the shadow target ({policy.shadow.percent} % mirrored)")
    if reasons:
        listed = reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + " and " + reasons[-1]
        raise ScaleRefusedError(
            model, version, f"min_replicas 0 could leave it with no replica, and it {listed}; the gateway calls a "
            "version only while it has a RUNNING replica"
        )  # fmt: skip


def _check_cap(model: str, version: str, flag: str, value: int) -> None:
    if value > MAX_REPLICAS:
        problem = f"{flag} {value} is above the cap of {MAX_REPLICAS} replicas per version"
        raise InvalidScaleError(model, version, problem)


def _with_entry(entries: list[dict[str, Any]], sized: dict[str, Any]) -> list[dict[str, Any]]:
    if not any(entry.get("name") == VERSION_DEPLOYMENT for entry in entries):
        return [*entries, sized]
    return [sized if entry.get("name") == VERSION_DEPLOYMENT else entry for entry in entries]


def version_details(details: dict[str, Any], app_name: str) -> dict[str, Any]:
    """The app's `ModelVersion` deployment in the instance details ({} when Serve reports none)."""
    app = (details.get("applications") or {}).get(app_name) or {}
    return (app.get("deployments") or {}).get(VERSION_DEPLOYMENT) or {}


def describe_applied(deployment_config: dict[str, Any] | None) -> str:
    """One line for the sizing Serve applies (a deployment's `deployment_config` in the instance details, code
    defaults included): the bounds and target when it autoscales, else the fixed count."""
    if not deployment_config:
        return "unknown (no deployment reported yet)"
    autoscaling = deployment_config.get("autoscaling_config")
    if isinstance(autoscaling, dict):
        shown = {key: autoscaling[key] for key in AUTOSCALING_ORDER[:4] if autoscaling.get(key) is not None}
        return "autoscaling " + describe_autoscaling(shown)
    replicas = deployment_config.get("num_replicas")
    return f"{replicas} replica{'' if replicas == 1 else 's'} (fixed)"
