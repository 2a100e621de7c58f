"""Where a rollout driver finds the cluster: the variables `eval "$(python -m cluster env)"` exports."""

from __future__ import annotations

import os
from collections.abc import Mapping

from rollout.errors import MissingSettingError

DASHBOARD = "RAY_DASHBOARD_ADDRESS"
SERVE_URL = "RAYSHIP_SERVE_URL"


def required(variable: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        raise MissingSettingError(variable)
    return value.rstrip("/")
