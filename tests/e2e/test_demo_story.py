"""The whole story, as `make demo` tells it: train, deploy, canary to promotion, a broken version rolled back on
errors and a wrong-with-200 one on live accuracy, drift on one shifted feature, then the loop closed: the drift
alert fires in the local Prometheus, the trigger retrains on the fresh data, the gate passes, the canary promotes.

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


def test_make_demo_promotes_a_good_candidate_rolls_back_bad_ones_shows_drift_and_retrains_on_it():
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
    rolled_back = re.findall(r"Rollout (\w+) of 'iris': Failed \(failed checks", output)
    assert promoted and len(rolled_back) == 2, output[-3000:]
    assert output.count("rolled back on its own, as it should be") == 2
    broken, mislabelled = (REPO / "reports" / f"iris-{rollout_id}.md" for rollout_id in rolled_back)
    assert "**Verdict: rolled_back**" in broken.read_text()
    assert broken.with_suffix(".png").stat().st_size > 10_000
    # The wrong-with-200 candidate: healthy by every HTTP measure, rolled back on live accuracy alone.
    mislabelled_report = mislabelled.read_text()
    assert "**Verdict: rolled_back**" in mislabelled_report
    assert re.search(r"candidate accuracy 0\.\d+ below champion", mislabelled_report), mislabelled_report[-3000:]
    # Traffic shifted on one feature: that feature drifts, the three others stay below their threshold.
    status = output[output.index("9/12 Traffic shifted") : output.index("11/12 Close the loop")]
    assert re.search(r"petal length \(cm\).*\bDRIFT\b", status), status[:3000]
    for feature in ("sepal length", "sepal width", "petal width"):
        assert re.search(rf"{feature} \(cm\).*\bok\b", status), status[:3000]
    monitoring_report = re.search(r"(\S+/monitoring-iris-\w+\.md)", status)
    assert monitoring_report and Path(monitoring_report.group(1)).is_file(), status[-2000:]
    # The loop: alert -> job -> registered version -> gate -> canary -> promoted, recorded in the registry.
    loop = output[output.index("11/12 Close the loop") :]
    fired = re.search(r"submit: (RayshipFeatureDriftHigh|RayshipPredictionDriftHigh) fired on v(\d+)", loop)
    assert fired, loop[-3000:]
    cycle = re.search(r"(retrain-iris-[0-9a-f]{12}): submitted - job \1 submitted to Ray Jobs at ", loop)
    assert cycle, loop[-3000:]
    retrained = re.search(rf"{cycle.group(1)}: registered - iris v(\d+) from run \w+", loop)
    assert retrained and int(retrained.group(1)) > int(fired.group(2)), loop[-3000:]
    assert re.search(rf"{cycle.group(1)}: gate - passed: accuracy \S+ beats champion iris/{fired.group(2)}", loop)
    assert re.search(rf"{cycle.group(1)}: verdict - canary \w+: promoted", loop), loop[-3000:]
    chain = loop[loop.index("12/12 The chain") :]
    assert f"{cycle.group(1)}: promoted" in chain, chain[:3000]
    assert re.search(rf"retrained_by\s+.*{cycle.group(1)}", chain), chain[-2000:]
