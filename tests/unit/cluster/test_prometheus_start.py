from cluster import lifecycle
from cluster.settings import ClusterSettings
from cluster.state import ClusterState


def test_without_the_binary_the_cluster_goes_on_and_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(lifecycle.shutil, "which", lambda _name: None)
    state, said = ClusterState(), []
    lifecycle._start_prometheus(ClusterSettings(state_dir=tmp_path), state, tmp_path, said.append)
    assert said == [
        "Prometheus               not started: no `prometheus` on PATH (Debian: apt-get install prometheus; "
        "`make setup` installs it); alerts and `python -m monitoring watch` need it"
    ]
    assert state.services == []


def test_turned_off_it_is_not_looked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(lifecycle.shutil, "which", lambda _name: (_ for _ in ()).throw(AssertionError("looked")))
    state, said = ClusterState(), []
    lifecycle._start_prometheus(ClusterSettings(state_dir=tmp_path, prometheus=False), state, tmp_path, said.append)
    assert said == ["Prometheus               off (--no-prometheus / RAYSHIP_PROMETHEUS=0)"]
    assert state.services == []


def test_the_environment_switch_reads_as_off(tmp_path):
    from cluster.settings import settings_from_env

    assert settings_from_env({"RAYSHIP_PROMETHEUS": "0", "RAYSHIP_STATE_DIR": str(tmp_path)}).prometheus is False
