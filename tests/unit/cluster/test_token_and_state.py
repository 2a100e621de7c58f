import stat
from pathlib import Path

import pytest

from cluster.state import ClusterState, ServiceRecord, load_state, save_state, state_path
from cluster.token import ensure_token, read_token, token_path


def test_token_is_generated_once_with_owner_only_permissions(tmp_path: Path):
    path = tmp_path / "ray" / "auth_token"
    assert ensure_token(path) is True
    first = read_token(path)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_token(path) is False
    assert read_token(path) == first


def test_loose_permissions_on_an_existing_token_are_tightened(tmp_path: Path):
    path = tmp_path / "auth_token"
    path.write_text("secret")
    path.chmod(0o644)
    ensure_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token(path) == "secret"


def test_an_empty_token_file_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "auth_token"
    path.write_text("")
    with pytest.raises(ValueError, match=f"Ray token file {path} is empty"):
        ensure_token(path)


def test_token_path_follows_ray_auth_token_path(tmp_path: Path):
    assert token_path({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "t")}) == tmp_path / "t"
    assert token_path({}) == Path("~/.ray/auth_token").expanduser()


def test_state_round_trips_and_leaves_no_temp_files(tmp_path: Path):
    state = ClusterState(services=[ServiceRecord(name="mlflow", pid=42, log_path=tmp_path / "m.log", url="http://x")])
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == [state_path(tmp_path).name]


def test_missing_state_means_down(tmp_path: Path):
    assert load_state(tmp_path) is None
