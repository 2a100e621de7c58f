"""Where a rollout driver finds the cluster: the variables `eval "$(python -m cluster env)"` exports.

The token is found as every client finds it (`rayship.cluster_token`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rayship.cluster_token import read_cluster_token
from rollout.errors import MissingSettingError

DASHBOARD = "RAY_DASHBOARD_ADDRESS"
SERVE_URL = "RAYSHIP_SERVE_URL"


def required(variable: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        raise MissingSettingError(variable)
    return value.rstrip("/")


def read_token(environ: Mapping[str, str] | None = None) -> str | None:
    return read_cluster_token(environ)
