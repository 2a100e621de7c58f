"""`rayship scale`: the pure sizing edit of the live Serve config and its refusals (`rollout/scaling.py`), waiting
for replicas on an injected clock, and the CLI (`rollout/scale_cli.py`) over a fake Serve REST API whose version
apps report their replicas as Serve's controller would."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from deployments.app_config import gateway_app, version_app
from rayship.lease import LeaseFile
from rollout import scale_cli
from rollout.errors import (
    AppNotFoundError,
    InvalidScaleError,
    ModelPolicyNotFoundError,
    ReplicasNotReadyError,
    ScaleOverwrittenError,
    ScaleRefusedError,
    VersionNotInPolicyError,
)
from rollout.live_config import LiveConfig, live_config_dict, parse_live_config
from rollout.scaling import (
    MAX_REPLICAS,
    VERSION_TARGET_ONGOING_REQUESTS,
    AutoscalingBounds,
    FixedReplicas,
    ReplicaTarget,
    describe_counts,
    describe_sizing,
    scale_request,
    scaled,
    scaling_notes,
)
from rollout.serve_file import SERVE_CONFIG_ENV
from tests.unit.rollout.serve_fakes import HTTP_OPTIONS, FakeClock, FakeDashboard

REPO = Path(__file__).resolve().parents[3]
V1_DEPLOYMENT = {
    "max_ongoing_requests": 64,
    "ray_actor_options": {"num_cpus": 0.25},
    "autoscaling_config": {
        "min_replicas": 1,
        "max_replicas": 3,
        "target_ongoing_requests": 0.7,
        "upscale_delay_s": 5,
        "downscale_delay_s": 30,
    },
    "user_config": {"max_batch_size": 32},
}
V2_DEPLOYMENT = {"num_replicas": 2, "autoscaling_config": None, "ray_actor_options": {"num_cpus": 0.1}}
ENV = {"env_vars": {"OMP_NUM_THREADS": "1"}}


def policy(shadow: dict | None = None) -> dict:
    iris = {
        "versions": [
            {"version": "1", "app": "iris-v1", "weight": 90},
            {"version": "2", "app": "iris-v2", "weight": 10},
            {"version": "3", "app": "iris-v3", "weight": 0},
        ],
        "champion": "1",
    }
    if shadow is not None:
        iris["shadow"] = shadow
    wine = {"versions": [{"version": "1", "app": "wine-v1", "weight": 100}]}
    return {"models": {"iris": iris, "wine": wine}}


def applications(shadow: dict | None = None) -> list[dict]:
    """The gateway, iris v1 (autoscaling 1-3), v2 (2 fixed), v3 (no deployment options: the code's) and wine v1."""
    return [
        gateway_app(policy(shadow), deployment={"num_replicas": 1}),
        version_app("iris", "1", runtime_env=ENV, deployment=V1_DEPLOYMENT),
        version_app("iris", "2", deployment=V2_DEPLOYMENT),
        version_app("iris", "3"),
        version_app("wine", "1", deployment={"num_replicas": 1, "autoscaling_config": None}),
    ]


def raw_config(shadow: dict | None = None) -> dict:
    config = {"proxy_location": "EveryNode", "http_options": HTTP_OPTIONS, "applications": applications(shadow)}
    return copy.deepcopy(config)  # tests edit it; the module's dicts stay as they are


def live(shadow: dict | None = None) -> LiveConfig:
    return parse_live_config(raw_config(shadow))


def apps_of(config: dict | LiveConfig) -> dict[str, dict]:
    raw = live_config_dict(config) if isinstance(config, LiveConfig) else config
    return {app["name"]: app for app in raw["applications"]}


def model_version(config: dict | LiveConfig, app: str) -> dict:
    return next(entry for entry in apps_of(config)[app]["deployments"] if entry["name"] == "ModelVersion")


def identical(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def assert_only_changed(before: dict, after: dict, app: str) -> None:
    """Every other app (the gateway included) and the instance options exactly as they were."""
    assert identical({k: v for k, v in before.items() if k != "applications"},
                     {k: v for k, v in after.items() if k != "applications"})  # fmt: skip
    others_before = {name: spec for name, spec in apps_of(before).items() if name != app}
    others_after = {name: spec for name, spec in apps_of(after).items() if name != app}
    assert identical(others_before, others_after)
    assert list(apps_of(before)) == list(apps_of(after))  # same apps, same order


# --- the pure edit ---


def test_a_fixed_count_replaces_autoscaling_and_nothing_else_changes() -> None:
    plan = scaled(live(), "iris", "1", FixedReplicas(3))

    after = live_config_dict(plan.config)
    expected_entry = {k: v for k, v in V1_DEPLOYMENT.items() if k != "autoscaling_config"}
    expected_entry |= {"name": "ModelVersion", "num_replicas": 3, "autoscaling_config": None}
    assert model_version(after, "iris-v1") == expected_entry
    app = apps_of(after)["iris-v1"]
    assert {k: v for k, v in app.items() if k != "deployments"} == {
        k: v for k, v in version_app("iris", "1", runtime_env=ENV).items() if k != "deployments"
    }
    assert_only_changed(raw_config(), after, "iris-v1")
    assert plan.config.gateway == live().gateway
    assert (plan.app_name, plan.changed, plan.target) == ("iris-v1", True, ReplicaTarget(3, 3))
    assert plan.before == {"autoscaling_config": V1_DEPLOYMENT["autoscaling_config"]}
    assert plan.after == {"num_replicas": 3, "autoscaling_config": None}


def test_autoscaling_bounds_replace_a_fixed_count() -> None:
    plan = scaled(live(), "iris", "2", AutoscalingBounds(1, 3))

    entry = model_version(plan.config, "iris-v2")
    assert entry == {
        "name": "ModelVersion",
        "ray_actor_options": {"num_cpus": 0.1},
        "autoscaling_config": {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 0.7},
    }
    assert "num_replicas" not in entry
    assert_only_changed(raw_config(), live_config_dict(plan.config), "iris-v2")
    assert plan.target == ReplicaTarget(1, 3)


def test_new_bounds_keep_the_other_autoscaling_fields() -> None:
    plan = scaled(live(), "iris", "1", AutoscalingBounds(2, 5, target_ongoing_requests=0.5))

    assert model_version(plan.config, "iris-v1")["autoscaling_config"] == {
        "min_replicas": 2,
        "max_replicas": 5,
        "target_ongoing_requests": 0.5,
        "upscale_delay_s": 5,
        "downscale_delay_s": 30,
    }
    only_max = scaled(live(), "iris", "1", AutoscalingBounds(max_replicas=6))
    assert model_version(only_max.config, "iris-v1")["autoscaling_config"] == {
        **V1_DEPLOYMENT["autoscaling_config"],
        "max_replicas": 6,
    }


def test_fixed_then_autoscaling_then_fixed_round_trips() -> None:
    fixed = scaled(live(), "iris", "1", FixedReplicas(2)).config
    bounds = scaled(fixed, "iris", "1", AutoscalingBounds(1, 3)).config
    back = scaled(bounds, "iris", "1", FixedReplicas(2)).config

    assert identical(live_config_dict(back), live_config_dict(fixed))
    for config in (fixed, bounds, back):
        dumped = live_config_dict(config)
        assert identical(live_config_dict(parse_live_config(dumped)), dumped)  # writing it back changes nothing


def test_an_app_without_deployment_options_gets_a_model_version_entry() -> None:
    plan = scaled(live(), "iris", "3", FixedReplicas(2))

    assert apps_of(plan.config)["iris-v3"]["deployments"] == [
        {"name": "ModelVersion", "num_replicas": 2, "autoscaling_config": None}
    ]
    assert_only_changed(raw_config(), live_config_dict(plan.config), "iris-v3")
    assert plan.before == {}
    with pytest.raises(InvalidScaleError) as caught:
        scaled(live(), "iris", "3", AutoscalingBounds(max_replicas=3))
    assert str(caught.value) == (
        "Cannot scale version '3' of model 'iris': its Serve config has no autoscaling_config to update; give both "
        "--min and --max"
    )


def test_the_same_sizing_again_changes_nothing() -> None:
    config = live()
    plan = scaled(config, "iris", "2", FixedReplicas(2))

    assert not plan.changed
    assert plan.config is config
    assert not scaled(config, "iris", "1", AutoscalingBounds(1, 3)).changed


def test_initial_replicas_is_kept_within_the_new_bounds() -> None:
    raw = raw_config()
    raw["applications"][1]["deployments"][0]["autoscaling_config"]["initial_replicas"] = 3
    plan = scaled(parse_live_config(raw), "iris", "1", AutoscalingBounds(1, 2))

    assert model_version(plan.config, "iris-v1")["autoscaling_config"]["initial_replicas"] == 2


def test_an_autoscaling_config_ray_refuses_is_named() -> None:
    raw = raw_config()
    raw["applications"][1]["deployments"][0]["autoscaling_config"]["upscale_delay_s"] = -1
    with pytest.raises(InvalidScaleError) as caught:
        scaled(parse_live_config(raw), "iris", "1", AutoscalingBounds(1, 2))
    assert str(caught.value) == (
        "Cannot scale version '1' of model 'iris': autoscaling_config is invalid: upscale_delay_s: Input should be "
        "greater than or equal to 0"
    )


def test_bounds_resolved_with_the_config_must_be_ordered() -> None:
    with pytest.raises(InvalidScaleError) as caught:
        scaled(live(), "iris", "1", AutoscalingBounds(min_replicas=4))  # its max_replicas is 3
    assert str(caught.value) == "Cannot scale version '1' of model 'iris': min_replicas 4 is above max_replicas 3"


@pytest.mark.parametrize(
    ("model", "version", "error", "message"),
    [
        ("beer", "1", ModelPolicyNotFoundError, "Gateway has no traffic policy for model 'beer'"),
        ("iris", "9", VersionNotInPolicyError, "Model 'iris' has no version '9' in the gateway policy"),
    ],
)
def test_an_unknown_model_or_version(model: str, version: str, error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        scaled(live(), model, version, FixedReplicas(2))
    assert str(caught.value) == message


def test_a_listed_version_without_its_app() -> None:
    raw = raw_config()
    raw["applications"] = [app for app in raw["applications"] if app["name"] != "iris-v3"]
    with pytest.raises(AppNotFoundError) as caught:
        scaled(parse_live_config(raw), "iris", "3", FixedReplicas(2))
    assert str(caught.value) == "Serve config has no application 'iris-v3'"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"replicas": 0}, "--replicas must be at least 1, got 0 (only autoscaling scales to zero: --min 0)"),
        ({"replicas": -2}, "--replicas must be at least 1, got -2 (only autoscaling scales to zero: --min 0)"),
        ({"replicas": 65}, f"--replicas 65 is above the cap of {MAX_REPLICAS} replicas per version"),
        ({"min_replicas": -1, "max_replicas": 3}, "--min must be 0 or more, got -1"),
        ({"min_replicas": 0, "max_replicas": 0}, "--max must be at least 1, got 0"),
        ({"max_replicas": 100}, f"--max 100 is above the cap of {MAX_REPLICAS} replicas per version"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas 3 is above max_replicas 2"),
        ({"target_ongoing_requests": 0.0}, "--target-ongoing-requests must be above 0, got 0"),
        ({"target_ongoing_requests": -0.5}, "--target-ongoing-requests must be above 0, got -0.5"),
        (
            {"replicas": 2, "max_replicas": 3},
            "--replicas fixes the count; it cannot be combined with --min, --max or --target-ongoing-requests",
        ),
    ],
)
def test_sizes_that_make_no_sense(options: dict, problem: str) -> None:
    with pytest.raises(InvalidScaleError) as caught:
        scale_request("iris", "2", **options)
    assert str(caught.value) == f"Cannot scale version '2' of model 'iris': {problem}"
    assert caught.value.status_code == 400


def test_the_requests_the_options_make() -> None:
    assert scale_request("iris", "2") is None
    assert scale_request("iris", "2", replicas=3) == FixedReplicas(3)
    assert scale_request("iris", "2", replicas=MAX_REPLICAS) == FixedReplicas(MAX_REPLICAS)
    assert scale_request("iris", "2", min_replicas=0, max_replicas=3) == AutoscalingBounds(0, 3)
    assert scale_request("iris", "2", target_ongoing_requests=0.5) == AutoscalingBounds(None, None, 0.5)


REFUSED = "the gateway calls a version only while it has a RUNNING replica"


@pytest.mark.parametrize(
    ("version", "shadow", "why"),
    [
        ("1", None, "it has weight 90 in the gateway policy and is the champion (the failover target)"),
        ("2", None, "it has weight 10 in the gateway policy"),
        ("3", {"version": "3", "percent": 10}, "it is the shadow target (10 % mirrored)"),
    ],
)
def test_zero_replicas_for_a_version_the_policy_relies_on_is_refused(version: str, shadow, why: str) -> None:
    with pytest.raises(ScaleRefusedError) as caught:
        scaled(live(shadow), "iris", version, AutoscalingBounds(0, 3))
    assert str(caught.value) == (
        f"Refusing to scale version '{version}' of model 'iris': min_replicas 0 could leave it with no replica, and "
        f"{why}; {REFUSED}"
    )
    assert caught.value.status_code == 409


def test_a_champion_named_by_weight_alone_is_refused_too() -> None:
    raw = raw_config()
    raw["applications"][0]["deployments"][0]["user_config"]["models"]["iris"].pop("champion")
    with pytest.raises(ScaleRefusedError, match="and is the champion"):
        scaled(parse_live_config(raw), "iris", "1", AutoscalingBounds(0, 3))


def test_a_kept_min_of_zero_is_checked_as_well() -> None:
    raw = raw_config()
    raw["applications"][1]["deployments"][0]["autoscaling_config"]["min_replicas"] = 0
    with pytest.raises(ScaleRefusedError):
        scaled(parse_live_config(raw), "iris", "1", AutoscalingBounds(max_replicas=4))


def test_an_unrouted_version_may_scale_to_zero_and_is_told_what_that_means() -> None:
    plan = scaled(live({"version": "3", "percent": 0}), "iris", "3", AutoscalingBounds(0, 2))

    assert model_version(plan.config, "iris-v3")["autoscaling_config"] == {
        "min_replicas": 0,
        "max_replicas": 2,
        "target_ongoing_requests": VERSION_TARGET_ONGOING_REQUESTS,
    }
    assert scaling_notes(plan) == [
        "with min_replicas 0 the gateway sends iris-v3 nothing, pinned requests included, while it has no RUNNING "
        "replica"
    ]


def test_a_target_the_gateway_never_reaches_is_noted() -> None:
    plan = scaled(live(), "iris", "1", AutoscalingBounds(target_ongoing_requests=2))

    assert scaling_notes(plan) == [
        "target_ongoing_requests 2 is not below the gateway's calls_per_replica (1): a gateway replica keeps at "
        "most 1 call in flight per version replica, so one gateway replica never makes it scale up"
    ]
    assert scaling_notes(scaled(live(), "iris", "1", FixedReplicas(2))) == []


def test_the_default_target_is_the_version_apps_own() -> None:
    from deployments.version_app import ModelVersion

    code = ModelVersion._deployment_config.autoscaling_config.target_ongoing_requests
    shipped = yaml.safe_load((REPO / "configs" / "serve.yaml").read_text())["applications"][1]
    assert code == shipped["deployments"][0]["autoscaling_config"]["target_ongoing_requests"]
    assert code == VERSION_TARGET_ONGOING_REQUESTS


def test_descriptions() -> None:
    assert describe_sizing({"num_replicas": 1, "autoscaling_config": None}) == "1 replica (fixed)"
    assert describe_sizing({"num_replicas": 3}) == "3 replicas (fixed)"
    assert describe_sizing({"autoscaling_config": {"upscale_delay_s": 1, "max_replicas": 3, "min_replicas": 1}}) == (
        "autoscaling min_replicas 1, max_replicas 3, upscale_delay_s 1"
    )
    assert describe_sizing({"num_replicas": "auto"}) == "num_replicas auto (Serve's default autoscaling)"
    assert describe_sizing({}) == "not set in the Serve config (the code's defaults apply)"
    assert describe_counts(Counter({"STOPPING": 1, "RUNNING": 2, "STARTING": 1})) == (
        "2 RUNNING, 1 STARTING, 1 STOPPING"
    )
    assert describe_counts(Counter()) == "no replicas"
    assert ReplicaTarget(1, 1).describe() == "1 RUNNING replica"
    assert ReplicaTarget(0, 3).describe() == "0 to 3 RUNNING replicas"


# --- a Serve REST API whose version apps have replicas ---

CODE_AUTOSCALING = {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 0.7}  # ModelVersion's decorator


class ReplicaDashboard(FakeDashboard):
    """The fake dashboard serving `applications(shadow)`, each version app's `ModelVersion` reporting replicas.
    Each GET moves every version app one step toward its target, as Serve's controller does over time: a STARTING
    replica becomes RUNNING (unless `stuck`: no CPUs free), a STOPPING one goes, and one replica is added or stopped.
    The target follows the config like Serve: `num_replicas` when autoscaling is off (`autoscaling_config: null`),
    else `demand` clamped to the autoscaling bounds (the config's, else the code's)."""

    def __init__(self, shadow: dict | None = None) -> None:
        super().__init__(polls_to_settle=2)
        self.deploy(raw_config(shadow))
        for app in self.apps.values():
            app["status"], app["polls"] = "RUNNING", 0
        self.demand: dict[str, int] = {}
        self.stuck = False
        self.created = 0
        self.replicas: dict[str, list[dict]] = {}
        for name in self.apps:
            if name != "gateway":
                self.replicas[name] = [self._replica(name, "RUNNING") for _ in range(self.target(name))]
        self.on_put: list = []

    def entry(self, name: str) -> dict:
        deployments = self.apps[name]["config"].get("deployments") or []
        return next((entry for entry in deployments if entry["name"] == "ModelVersion"), {})

    def applied(self, name: str) -> dict | None:
        entry = self.entry(name)
        if "autoscaling_config" in entry and entry["autoscaling_config"] is None:
            return None
        return entry.get("autoscaling_config") or CODE_AUTOSCALING

    def target(self, name: str) -> int:
        autoscaling = self.applied(name)
        if autoscaling is None:
            return self.entry(name).get("num_replicas", 1)
        demand = self.demand.get(name, 0)
        return min(max(demand, autoscaling["min_replicas"]), autoscaling["max_replicas"])

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            for check in self.on_put:
                check()
        return super().handle(request)

    def details(self) -> dict:
        body = super().details()
        for name, app in body["applications"].items():
            if name == "gateway":
                continue
            self._step(name)
            autoscaling = self.applied(name)
            applied = {"name": "ModelVersion", "num_replicas": self.target(name), "autoscaling_config": None}
            if autoscaling is not None:
                applied = {**applied, "num_replicas": 1, "autoscaling_config": {**CODE_AUTOSCALING, **autoscaling}}
            app["deployments"] = {
                "ModelVersion": {
                    "name": "ModelVersion",
                    "status": "HEALTHY",
                    "message": "",
                    "deployment_config": applied,
                    "target_num_replicas": self.target(name),
                    "replicas": copy.deepcopy(self.replicas.get(name, [])),
                }
            }
        return body

    def running(self, name: str) -> int:
        return sum(1 for replica in self.replicas[name] if replica["state"] == "RUNNING")

    def _replica(self, name: str, state: str) -> dict:
        self.created += 1
        return {"replica_id": f"{name}#{self.created}", "state": state, "pid": 1000 + self.created}

    def _step(self, name: str) -> None:
        replicas = self.replicas.setdefault(name, [])
        replicas[:] = [replica for replica in replicas if replica["state"] != "STOPPING"]
        for replica in replicas:
            if replica["state"] == "STARTING" and not self.stuck:
                replica["state"] = "RUNNING"
        live = [replica for replica in replicas if replica["state"] in ("RUNNING", "STARTING")]
        if len(live) < self.target(name):
            replicas.append(self._replica(name, "STARTING"))
        elif len(live) > self.target(name):
            live[-1]["state"] = "STOPPING"


@pytest.fixture
def dashboard() -> ReplicaDashboard:
    return ReplicaDashboard()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def cli(dashboard: ReplicaDashboard, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`cli(*args)`: `scale_cli.main` against the fake dashboard, its state dir in tmp_path; returns the exit code."""

    def connect(timeout_s: float):
        client = httpx.Client(transport=httpx.MockTransport(dashboard.handle))
        router = scale_cli.ServeDetailsRouter(
            "http://127.0.0.1:38265/", "tok", clock, timeout_s=timeout_s, poll_interval_s=1, client=client
        )
        return router, clock

    monkeypatch.setattr(scale_cli, "connect", connect)
    serve_file = tmp_path / "serve.yaml"
    monkeypatch.setenv(SERVE_CONFIG_ENV, str(serve_file))  # kept in step when a test writes one

    def run(*args: str) -> int:
        no_file = [] if serve_file.exists() or "--no-serve-config-sync" in args else ["--no-serve-config-sync"]
        return scale_cli.main([*args, "--state-dir", str(tmp_path / "state"), *no_file])

    return run


def iris(version: str, *sizes: str) -> list[str]:
    return ["--model", "iris", "--version", version, *sizes]


# --- waiting for the replicas ---


def test_waiting_says_each_change_until_the_target_runs(dashboard: ReplicaDashboard, clock: FakeClock) -> None:
    dashboard.demand["iris-v1"] = 3
    said: list[str] = []
    expected = {"autoscaling_config": V1_DEPLOYMENT["autoscaling_config"]}

    counts = scale_cli.wait_for_replicas(
        dashboard.details, "iris-v1", expected, ReplicaTarget(3, 3), clock, 30, 1, said.append
    )

    assert counts == Counter({"RUNNING": 3})
    assert said == [
        "iris-v1 ModelVersion: 1 RUNNING, 1 STARTING (want 3 RUNNING replicas)",
        "iris-v1 ModelVersion: 2 RUNNING, 1 STARTING (want 3 RUNNING replicas)",
        "iris-v1 ModelVersion: 3 RUNNING (want 3 RUNNING replicas)",
    ]
    assert clock.slept == [1, 1]


def test_waiting_gives_up_at_the_deadline(dashboard: ReplicaDashboard, clock: FakeClock) -> None:
    dashboard.demand["iris-v1"], dashboard.stuck = 3, True
    expected = {"autoscaling_config": V1_DEPLOYMENT["autoscaling_config"]}
    with pytest.raises(ReplicasNotReadyError) as caught:
        scale_cli.wait_for_replicas(
            dashboard.details, "iris-v1", expected, ReplicaTarget(3, 3), clock, 5, 1, lambda line: None
        )
    assert str(caught.value) == (
        "Deployment 'ModelVersion' of application 'iris-v1' did not reach 3 RUNNING replicas in 5 s "
        "(now 1 RUNNING, 2 STARTING)"
    )
    assert clock.t == 1_005.0


def test_waiting_notices_a_config_written_over_it(dashboard: ReplicaDashboard, clock: FakeClock) -> None:
    with pytest.raises(ScaleOverwrittenError) as caught:
        scale_cli.wait_for_replicas(
            dashboard.details, "iris-v1", {"num_replicas": 3, "autoscaling_config": None}, ReplicaTarget(3, 3),
            clock, 5, 1, lambda line: None,
        )  # fmt: skip
    assert str(caught.value) == (
        "The replica settings of application 'iris-v1' changed while scaling (now autoscaling min_replicas 1, "
        "max_replicas 3, target_ongoing_requests 0.7, upscale_delay_s 5, downscale_delay_s 30); another writer "
        "replaced the Serve config, run the command again"
    )


# --- the CLI ---


def test_scale_to_a_fixed_count(cli, dashboard: ReplicaDashboard, tmp_path: Path, capsys) -> None:
    before = dashboard.details()
    assert cli(*iris("1", "--replicas", "3")) == 0

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "iris-v1 ModelVersion: autoscaling min_replicas 1, max_replicas 3, target_ongoing_requests 0.7, "
        "upscale_delay_s 5, downscale_delay_s 30 -> 3 replicas (fixed)",
        "iris-v1: RUNNING on the new settings",  # Serve started replicas while the app deployed (2 polls here)
        "iris-v1 ModelVersion: 3 RUNNING (want 3 RUNNING replicas)",
        "Scaled iris-v1: 3 RUNNING",
    ]
    (put,) = dashboard.puts
    assert model_version(put, "iris-v1")["num_replicas"] == 3
    assert model_version(put, "iris-v1")["autoscaling_config"] is None
    from rollout.adapters.routers.serve_rest import config_from_details

    assert_only_changed(config_from_details(before), put, "iris-v1")
    assert dashboard.running("iris-v1") == 3
    assert LeaseFile(tmp_path / "state", "iris").read() is None  # released


def test_scale_down_waits_for_the_extra_replicas_to_stop(cli, dashboard: ReplicaDashboard, capsys) -> None:
    assert cli(*iris("2", "--replicas", "1")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Scaled iris-v2: 1 RUNNING"
    assert dashboard.running("iris-v2") == 1


def test_autoscaling_bounds_then_the_view(cli, dashboard: ReplicaDashboard, capsys) -> None:
    dashboard.demand["iris-v2"] = 2  # the load its two fixed replicas have
    assert cli(*iris("2", "--min", "1", "--max", "3", "--target-ongoing-requests", "0.5")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "iris-v2 ModelVersion: 2 replicas (fixed) -> autoscaling min_replicas 1, max_replicas 3, "
        "target_ongoing_requests 0.5"
    )
    assert out[-1] == "Scaled iris-v2: 2 RUNNING"  # within the bounds: the autoscaler decides from here
    (put,) = dashboard.puts
    assert "num_replicas" not in model_version(put, "iris-v2")

    dashboard.demand["iris-v2"] = 3
    for _ in range(3):
        dashboard.details()
    assert cli(*iris("2")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "iris-v2: version '2' of model 'iris' (weight 10), RUNNING",
        "  configured: autoscaling min_replicas 1, max_replicas 3, target_ongoing_requests 0.5",
        "  applied:    autoscaling min_replicas 1, max_replicas 3, target_ongoing_requests 0.5",
        "  target:     3 replicas",
        "  replicas:   3 RUNNING",
    ]
    assert len(dashboard.puts) == 1  # the view writes nothing


def test_the_view_shows_what_the_code_applies_when_the_config_sets_nothing(cli, capsys) -> None:
    assert cli(*iris("3")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "iris-v3: version '3' of model 'iris' (weight 0), RUNNING",
        "  configured: not set in the Serve config (the code's defaults apply)",
        "  applied:    autoscaling min_replicas 1, max_replicas 2, target_ongoing_requests 0.7",
        "  target:     1 replica",
        "  replicas:   1 RUNNING",
    ]
    assert cli(*iris("1")) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "iris-v1: version '1' of model 'iris' (weight 90, champion), RUNNING"
    )


def test_nothing_to_change_writes_nothing(cli, dashboard: ReplicaDashboard, capsys) -> None:
    assert cli(*iris("2", "--replicas", "2")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "iris-v2 ModelVersion: already 2 replicas (fixed); nothing to change",
        "iris-v2 ModelVersion: 2 RUNNING",
    ]
    assert dashboard.puts == []


def test_a_refused_size_writes_nothing_and_exits_3(cli, dashboard: ReplicaDashboard, tmp_path: Path, capsys) -> None:
    assert cli(*iris("1", "--min", "0", "--max", "3")) == 3
    assert capsys.readouterr().err == (
        "error: Refusing to scale version '1' of model 'iris': min_replicas 0 could leave it with no replica, and it "
        f"has weight 90 in the gateway policy and is the champion (the failover target); {REFUSED}\n"
    )
    assert dashboard.puts == []
    assert not (tmp_path / "state").exists()  # refused before any lease was taken


def test_an_unrouted_version_scales_to_zero_with_a_note(cli, dashboard: ReplicaDashboard, capsys) -> None:
    assert cli(*iris("3", "--min", "0", "--max", "2")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        "note: with min_replicas 0 the gateway sends iris-v3 nothing, pinned requests included, while it has no "
        "RUNNING replica"
    )
    assert out[-1] == "Scaled iris-v3: no replicas"
    assert dashboard.running("iris-v3") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (iris("2", "--replicas", "0"),
         "Cannot scale version '2' of model 'iris': --replicas must be at least 1, got 0 (only autoscaling scales to "
         "zero: --min 0)"),
        (iris("2", "--min", "3", "--max", "2"),
         "Cannot scale version '2' of model 'iris': min_replicas 3 is above max_replicas 2"),
        (["--model", "beer", "--version", "1", "--replicas", "2"], "Gateway has no traffic policy for model 'beer'"),
        (iris("7", "--replicas", "2"), "Model 'iris' has no version '7' in the gateway policy"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(cli, dashboard: ReplicaDashboard, args: list[str], message: str, capsys) -> None:
    assert cli(*args) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert dashboard.puts == []


def test_bad_sizes_are_refused_before_the_cluster_is_asked(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(scale_cli, "connect", lambda timeout_s: pytest.fail("connected"))
    assert scale_cli.main(iris("2", "--replicas", "-1")) == 2
    assert "--replicas must be at least 1, got -1" in capsys.readouterr().err
    assert scale_cli.main(iris("2", "--replicas", "two")) == 2
    assert "argument --replicas: invalid int value: 'two'" in capsys.readouterr().err
    assert scale_cli.main(["--version", "2"]) == 2


def test_a_missing_cluster_setting_is_named(monkeypatch, capsys) -> None:
    monkeypatch.delenv("RAY_DASHBOARD_ADDRESS", raising=False)
    assert scale_cli.main(iris("2", "--replicas", "2")) == 2
    assert capsys.readouterr().err == (
        'error: RAY_DASHBOARD_ADDRESS is not set; run: eval "$(python -m cluster env)"\n'
    )


def test_the_scale_holds_the_rollout_lease_while_it_writes(cli, dashboard: ReplicaDashboard, tmp_path: Path) -> None:
    holders: list[str] = []
    dashboard.on_put.append(lambda: holders.append(LeaseFile(tmp_path / "state", "iris").read().owner))

    assert cli(*iris("1", "--replicas", "2")) == 0

    (holder,) = holders
    assert ":scale-" in holder
    assert LeaseFile(tmp_path / "state", "iris").read() is None


def test_a_running_rollout_refuses_the_scale(cli, dashboard: ReplicaDashboard, clock, tmp_path: Path, capsys) -> None:
    LeaseFile(tmp_path / "state", "iris").acquire("host:1:driver", ttl_s=300, now_s=clock.now())

    assert cli(*iris("1", "--replicas", "2")) == 3
    assert capsys.readouterr().err == (
        "error: Model 'iris' is in a rollout driven by 'host:1:driver' (lease expires in 300 s); its candidate was "
        "started sized like the champion, and scaling either now changes what the rollout compares. Wait for it to "
        "finish, abort it (python -m rollout abort --model iris), or pass --force\n"
    )
    assert dashboard.puts == []


def test_force_scales_past_a_rollout_and_leaves_its_lease(cli, dashboard: ReplicaDashboard, clock, tmp_path, capsys):
    LeaseFile(tmp_path / "state", "iris").acquire("host:1:driver", ttl_s=300, now_s=clock.now())

    assert cli(*iris("1", "--replicas", "2", "--force")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "warning: rollout driver 'host:1:driver' holds the lease of model 'iris'; scaling anyway (--force): its "
        "candidate and champion no longer run alike"
    )
    assert out[-1] == "Scaled iris-v1: 2 RUNNING"
    assert LeaseFile(tmp_path / "state", "iris").read().owner == "host:1:driver"


def test_another_models_rollout_does_not_matter(cli, clock, tmp_path: Path) -> None:
    LeaseFile(tmp_path / "state", "wine").acquire("host:1:driver", ttl_s=300, now_s=clock.now())
    assert cli(*iris("1", "--replicas", "2")) == 0


def test_replicas_that_never_start_time_out_with_exit_3(cli, dashboard: ReplicaDashboard, tmp_path, capsys) -> None:
    dashboard.stuck = True
    assert cli(*iris("1", "--replicas", "3", "--timeout-s", "5")) == 3
    assert capsys.readouterr().err == (
        "error: Deployment 'ModelVersion' of application 'iris-v1' did not reach 3 RUNNING replicas in 5 s "
        "(now 1 RUNNING, 2 STARTING)\n"
    )
    assert len(dashboard.puts) == 1
    assert LeaseFile(tmp_path / "state", "iris").read() is None


def test_an_unreachable_dashboard_exits_3(tmp_path: Path, monkeypatch, capsys) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    def connect(timeout_s: float):
        client = httpx.Client(transport=httpx.MockTransport(refused))
        return scale_cli.ServeDetailsRouter("http://d", None, FakeClock(), client=client), FakeClock()

    monkeypatch.setattr(scale_cli, "connect", connect)
    assert scale_cli.main(iris("1")) == 3
    assert capsys.readouterr().err == (
        "error: Cannot reach http://d/api/serve/applications/: GET failed (ConnectError: Connection refused)\n"
    )


def test_the_serve_config_file_is_kept_in_step_so_deploying_it_again_keeps_the_scale(cli, tmp_path: Path, capsys):
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(raw_config(), sort_keys=False))

    assert cli(*iris("1", "--replicas", "2")) == 0
    assert f"{path}: 'iris' set to what is live (" in capsys.readouterr().out
    filed = yaml.safe_load(path.read_text())["applications"]
    version = next(app for app in filed if app["name"] == "iris-v1")["deployments"][0]
    assert (version["num_replicas"], version["autoscaling_config"]) == (2, None)
    assert cli(*iris("1", "--min", "1", "--max", "3")) == 0
    version = next(app for app in yaml.safe_load(path.read_text())["applications"] if app["name"] == "iris-v1")
    assert "num_replicas" not in version["deployments"][0]
    assert version["deployments"][0]["autoscaling_config"]["max_replicas"] == 3


def test_no_file_sync_when_told_not_to(cli, tmp_path: Path, capsys) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(raw_config(), sort_keys=False))
    before = path.read_text()
    assert cli(*iris("1", "--replicas", "2", "--no-serve-config-sync")) == 0
    assert path.read_text() == before
