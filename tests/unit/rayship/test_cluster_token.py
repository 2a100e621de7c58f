"""The one lookup of the Ray cluster token: the variable, else the file RAY_AUTH_TOKEN_PATH names, else Ray's
default ~/.ray/auth_token; None when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayship.cluster_token import read_cluster_token

pytestmark = pytest.mark.unit


def test_the_token_comes_from_the_variable_then_the_named_file_then_rays_default(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret\n")
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("default\n")

    assert (
        read_cluster_token({"RAY_AUTH_TOKEN": " direct ", "RAY_AUTH_TOKEN_PATH": str(tmp_path / "token")}) == "direct"
    )
    assert read_cluster_token({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "token")}, tmp_path) == "secret"
    assert read_cluster_token({}, tmp_path) == "default"


def test_no_token_anywhere_is_none(tmp_path: Path) -> None:
    assert read_cluster_token({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}, tmp_path) is None
    assert read_cluster_token({}, tmp_path) is None
