import yaml

from cluster.prometheus_files import SPECS_DIR, write_prometheus_files
from cluster.settings import ClusterSettings
from monitoring.spec import MonitorSpec


def test_the_config_and_the_rules_of_every_monitored_model_are_written_under_the_state_dir(tmp_path):
    settings = ClusterSettings(state_dir=tmp_path)
    models = write_prometheus_files(settings)
    assert models == len(list(SPECS_DIR.glob("*.yaml"))) >= 1
    config = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == [str(tmp_path / "prometheus" / "rules.yml")]
    rules = yaml.safe_load((tmp_path / "prometheus" / "rules.yml").read_text())
    assert [group["name"] for group in rules["groups"]] == ["rayship-iris"]


def test_without_specs_prometheus_gets_an_empty_rules_file(tmp_path):
    settings = ClusterSettings(state_dir=tmp_path / "state")
    (tmp_path / "specs").mkdir()
    assert write_prometheus_files(settings, tmp_path / "specs") == 0
    assert yaml.safe_load((tmp_path / "state" / "prometheus" / "rules.yml").read_text()) == {"groups": []}


def test_extra_specs_get_their_group_after_the_repositorys(tmp_path):
    settings = ClusterSettings(state_dir=tmp_path)
    assert write_prometheus_files(settings, extra_specs=[MonitorSpec(model="bench-loop")]) == 2
    rules = yaml.safe_load((tmp_path / "prometheus" / "rules.yml").read_text())
    assert [group["name"] for group in rules["groups"]] == ["rayship-iris", "rayship-bench-loop"]
