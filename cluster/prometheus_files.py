"""The local Prometheus' config and rules files, written under `<state_dir>/prometheus/` before it starts.

The rules come from the models' monitoring specs (`configs/monitoring/*.yaml`) through `monitoring.alert_rules`,
the same builder `make render` uses for KubeRay's `PrometheusRule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from cluster import commands
from cluster.settings import ClusterSettings
from monitoring.alert_rules import load_specs, rules_document
from monitoring.spec import MonitorSpec
from rayship.atomic_file import write_atomically

SPECS_DIR = Path(__file__).resolve().parents[1] / "configs" / "monitoring"


def write_prometheus_files(
    settings: ClusterSettings, specs_dir: Path = SPECS_DIR, extra_specs: Sequence[MonitorSpec] = ()
) -> int:
    """Write prometheus.yml and rules.yml (the specs in `specs_dir`, then `extra_specs`: a benchmark's model);
    returns how many models have rules. A running Prometheus reads them again on `POST /-/reload`."""
    specs = [*load_specs(specs_dir), *extra_specs]
    write_atomically(commands.prometheus_rules_path(settings), yaml.safe_dump(rules_document(specs), sort_keys=False))
    write_atomically(
        commands.prometheus_dir(settings) / "prometheus.yml",
        yaml.safe_dump(commands.prometheus_config(settings), sort_keys=False),
    )
    return len(specs)
