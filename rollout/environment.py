"""Where a rollout driver finds the cluster: the variables `eval "$(python -m cluster env)"` exports.

Rollout may not import `cluster` (docs/design.md, the folders' import table), so the token lookup is repeated here:
the file named by RAY_AUTH_TOKEN_PATH, else Ray's default `~/.ray/auth_token`; None when neither exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rollout.errors import MissingSettingError

DASHBOARD = "RAY_DASHBOARD_ADDRESS"
SERVE_URL = "RAYSHIP_SERVE_URL"
TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
DEFAULT_TOKEN_FILE = Path("~/.ray/auth_token")


def required(variable: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        raise MissingSettingError(variable)
    return value.rstrip("/")


def read_token(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    path = Path(environ.get(TOKEN_PATH) or DEFAULT_TOKEN_FILE).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
