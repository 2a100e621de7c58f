"""The whole story, as `make demo` tells it: train, deploy, canary to promotion, a broken version rolled back.

It runs scripts/demo.sh on the default local cluster (the one `make up` starts), so it runs in its own pytest
process (`make test-e2e`); a cluster it found down is stopped again at the end.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cluster import lifecycle
from cluster.settings import settings_from_env

REPO = Path(__file__).resolve().parents[2]


def test_make_demo_promotes_a_good_candidate_and_rolls_back_a_broken_one():
    settings = settings_from_env()
    was_up = bool(lifecycle.status(settings))
    try:
        result = subprocess.run(
            ["bash", "scripts/demo.sh"], cwd=REPO, capture_output=True, text=True, timeout=1200, check=False
        )
    finally:
        if not was_up:
            lifecycle.down(settings, say=lambda _m: None)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    promoted = re.search(r"Rollout \w+ of 'iris': Succeeded \(version (\d+) promoted\)", output)
    rolled_back = re.search(r"Rollout (\w+) of 'iris': Failed \(failed checks", output)
    assert promoted and rolled_back, output[-3000:]
    assert "rolled back on its own, as it should be" in output
    report = REPO / "reports" / f"iris-{rolled_back.group(1)}.md"
    assert "**Verdict: rolled_back**" in report.read_text()
    assert report.with_suffix(".png").stat().st_size > 10_000
