"""The README's quick start, executed: its shell blocks in order, in one bash, on a cluster started from nothing by
the blocks themselves (as on a fresh machine: its own state directory, so MLflow has no model yet and the first
sweep registers `models:/iris/1`). The README cannot go stale without this test failing.

It needs the default ports free, so it runs after the demo (which stops the cluster it started) and is skipped when
a developer's cluster is up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cluster import lifecycle
from cluster.settings import settings_from_env
from rollout.live_config import parse_live_config
from rollout.serve_file import SERVE_CONFIG_ENV

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Quick start"


def quickstart_blocks(readme: str) -> list[str]:
    """The ```bash blocks of the quick start section, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end != -1 else len(readme)]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def test_the_quick_start_has_the_steps_a_newcomer_needs() -> None:
    script = "\n".join(quickstart_blocks((REPO / "README.md").read_text(encoding="utf-8")))
    for step in ("source .venv/bin/activate", "rayship up", "rayship train", "rayship deploy", "curl -s",
                 "rayship rollout canary", "rayship status"):  # fmt: skip
        assert step in script, step


def test_the_readme_quick_start_runs_command_by_command(tmp_path: Path) -> None:
    if lifecycle.status(settings_from_env()):
        pytest.skip("a cluster is up in the default state dir; the quick start starts its own: `make down` first")
    serve_config = tmp_path / "serve.yaml"  # the canary keeps this copy in step, not the repository's file
    shutil.copy(REPO / "configs" / "serve.yaml", serve_config)
    env = {**os.environ, "RAYSHIP_STATE_DIR": str(tmp_path / "state"), SERVE_CONFIG_ENV: str(serve_config)}
    script = "\n".join(quickstart_blocks((REPO / "README.md").read_text(encoding="utf-8")))
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        down = subprocess.run([str(REPO / ".venv/bin/rayship"), "down"], cwd=REPO, env=env, capture_output=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert down.returncode == 0, down.stderr
    assert re.search(r'\{"predictions":\s*\[\d\]\}', output), output[-4000:]
    promoted = re.search(r"Rollout \w+ of 'iris': Succeeded \(version (\d+) promoted\)", output)
    assert promoted and promoted.group(1) == "2", output[-4000:]
    assert "iris: 1 -> 2 (canary, rollout" in output
    filed = parse_live_config(yaml.safe_load(serve_config.read_text(encoding="utf-8")))
    assert filed.weights("iris") == {"2": 100}
