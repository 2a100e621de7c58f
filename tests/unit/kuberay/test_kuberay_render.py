"""`python -m kuberay`: deterministic output, committed files up to date, and `--check` naming stale files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from kuberay.cli import main
from kuberay.render import expected_files, stale_files

GENERATED_PATCH = "kuberay/base/generated/rayservice.patch.yaml"
RENDERED = ("kuberay/rendered/dev.yaml", "kuberay/rendered/prod.yaml")


@pytest.fixture
def checkout(repo_root: Path, kubectl: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of what the renderer reads and writes, rendered there (independent of edits to the real tree)."""
    (tmp_path / "configs").mkdir()
    shutil.copy(repo_root / "configs" / "serve.yaml", tmp_path / "configs" / "serve.yaml")
    shutil.copy(repo_root / "Dockerfile", tmp_path / "Dockerfile")
    for part in ("base", "overlays"):
        shutil.copytree(repo_root / "kuberay" / part, tmp_path / "kuberay" / part)
    assert main(["--repo-root", str(tmp_path)]) == 0
    capsys.readouterr()
    return tmp_path


def change_a_weight(checkout: Path) -> None:
    path = checkout / "configs" / "serve.yaml"
    config = yaml.safe_load(path.read_text())
    config["applications"][0]["deployments"][0]["user_config"] = {"changed": True}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_rendering_twice_is_byte_identical(repo_root: Path, rendered: dict[str, str]) -> None:
    assert expected_files(repo_root) == rendered


def test_committed_kuberay_matches_its_sources(repo_root: Path, rendered: dict[str, str]) -> None:
    assert stale_files(repo_root, rendered) == [], "kuberay/ is stale: run `make render`"


def test_check_passes_on_a_rendered_checkout(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--repo-root", str(checkout)]) == 0
    assert capsys.readouterr().err == ""


def test_check_names_every_file_a_serve_config_change_makes_stale(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change_a_weight(checkout)
    before = (checkout / GENERATED_PATCH).read_text()

    assert main(["--check", "--repo-root", str(checkout)]) == 1

    err = capsys.readouterr().err
    assert err.splitlines() == [f"stale: {path} (run `make render`)" for path in sorted([GENERATED_PATCH, *RENDERED])]
    assert (checkout / GENERATED_PATCH).read_text() == before


def test_render_rewrites_the_stale_files_then_check_passes(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change_a_weight(checkout)

    assert main(["--repo-root", str(checkout)]) == 0
    assert main(["--check", "--repo-root", str(checkout)]) == 0

    out = capsys.readouterr().out
    assert f"rendered {GENERATED_PATCH}" in out
    assert "changed: true" in (checkout / RENDERED[0]).read_text()


def test_check_names_a_leftover_rendered_overlay(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (checkout / "kuberay" / "rendered" / "staging.yaml").write_text("{}\n")

    assert main(["--check", "--repo-root", str(checkout)]) == 1
    assert capsys.readouterr().err == "stale: kuberay/rendered/staging.yaml (run `make render`)\n"


def test_check_fails_when_the_dockerfile_is_on_another_ray(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = checkout / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("rayproject/ray:", "rayproject/ray:9.9.9-"))

    assert main(["--check", "--repo-root", str(checkout)]) == 1
    assert "error: Dockerfile must build FROM rayproject/ray:" in capsys.readouterr().err


def test_an_invalid_serve_config_is_an_error_not_a_render(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (checkout / "configs" / "serve.yaml").write_text("applications: {}\n")

    assert main(["--repo-root", str(checkout)]) == 2
    assert capsys.readouterr().err == (
        f"error: Serve config {checkout / 'configs' / 'serve.yaml'}: is not a mapping with an 'applications' list\n"
    )


def test_a_missing_kubectl_is_an_error_naming_the_overlay(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECTL", str(tmp_path / "no-kubectl"))

    assert main(["--check", "--repo-root", str(checkout)]) == 2
    assert capsys.readouterr().err.startswith(
        "error: Cannot build overlay 'dev': kubectl kustomize did not run ([Errno 2] No such file or directory"
    )
