"""`rayship deploy`: the file checked, every version admitted, traffic changes said, then one write; with the
in-memory router of `driver_fakes.py` standing in for Serve's REST API and the registry checks replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from registry.errors import VersionArchivedError
from rollout import deploy_cli
from rollout.live_config import parse_live_config
from tests.unit.rollout import driver_fakes as fakes

SERVE_YAML = Path(__file__).resolve().parents[3] / "configs" / "serve.yaml"


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> fakes.FakeRouter:
    router = fakes.FakeRouter(fakes.FakeClock())
    monkeypatch.setattr(deploy_cli, "_router", lambda timeout_s: router)
    monkeypatch.setenv("RAYSHIP_SERVE_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(deploy_cli, "wait_until_ready", lambda url, models, timeout_s: router.ready.append(models))
    router.ready = []
    return router


@pytest.fixture
def admitted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    uris: list[str] = []
    monkeypatch.setattr(deploy_cli, "admit_for_serving", uris.append)
    return uris


def test_the_shipped_file_is_deployed_after_its_version_is_admitted(router, admitted, capsys) -> None:
    assert deploy_cli.main([str(SERVE_YAML)]) == 0
    assert admitted == ["models:/iris/1"]
    assert router.writes == [yaml.safe_load(SERVE_YAML.read_text())]
    assert router.ready == [["iris"]]  # then waited until the gateway answers for every model
    out = capsys.readouterr().out
    assert out.endswith("Every application is RUNNING: gateway, iris-v1\n")


def test_a_file_that_changes_live_traffic_says_so_before_it_deploys(router, admitted, tmp_path: Path, capsys) -> None:
    live = router.read_config()
    live["applications"][0]["deployments"][0]["user_config"]["models"]["iris"]["versions"] = [
        {"version": "1", "app": "iris-v1", "weight": 40},
        {"version": "2", "app": "iris-v2", "weight": 60},
    ]
    live["applications"].append({**live["applications"][1], "name": "iris-v2"})
    router.config = live
    assert deploy_cli.main([str(SERVE_YAML)]) == 0
    assert capsys.readouterr().out.startswith("iris: traffic v1 40 %, v2 60 % (live) -> v1 100 % (this file)\n")


def test_an_archived_version_is_refused_before_anything_is_written(router, monkeypatch, capsys) -> None:
    def refuse(model_uri: str) -> None:
        raise VersionArchivedError("iris", "1", "be served")

    monkeypatch.setattr(deploy_cli, "admit_for_serving", refuse)
    assert deploy_cli.main([str(SERVE_YAML)]) == 3
    assert capsys.readouterr().err == (
        "error: Model iris/1 is archived, so it cannot be served; "
        "unarchive it first: python -m registry unarchive iris/1\n"
    )
    assert router.writes == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("applications: [\n", "not valid YAML"),
        ("[]\n", "it is not a mapping with an 'applications' list"),
        ("applications: []\n", "Serve config has no application 'gateway' with a deployment 'Gateway'"),
    ],
)
def test_a_bad_file_is_bad_input_and_nothing_is_written(router, admitted, tmp_path: Path, text, message, capsys):
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    assert deploy_cli.main([str(path)]) == 2
    assert message in capsys.readouterr().err
    assert router.writes == [] and admitted == []


def test_a_missing_file_is_named(router, admitted, tmp_path: Path, capsys) -> None:
    assert deploy_cli.main([str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == (
        f"error: Serve config file {tmp_path / 'nope.yaml'}: cannot read it (No such file or directory)\n"
    )


def test_the_file_defaults_to_the_one_rollouts_keep_in_step(router, admitted, monkeypatch, capsys) -> None:
    monkeypatch.setenv(deploy_cli.SERVE_CONFIG_ENV, str(SERVE_YAML))
    assert deploy_cli.main([]) == 0
    assert f"Deploying {SERVE_YAML}: gateway, iris-v1" in capsys.readouterr().out


def test_no_traffic_change_is_reported_before_the_gateway_first_runs() -> None:
    filed = parse_live_config(yaml.safe_load(SERVE_YAML.read_text()))
    assert deploy_cli.traffic_changes(deploy_cli.live_weights({"applications": []}), filed) == [
        "iris: traffic none (live) -> v1 100 % (this file)"
    ]


def test_waiting_for_the_gateway_names_the_model_it_gave_up_on() -> None:
    from rollout.errors import GatewayNotReadyError

    with pytest.raises(GatewayNotReadyError) as caught:
        deploy_cli.wait_until_ready("http://127.0.0.1:9", ["iris"], timeout_s=0.2, poll_s=0.05)
    assert str(caught.value) == "The gateway did not answer ready for model 'iris' within 0 s"
