"""Finding the Ray cluster token a client presents (the one lookup every package's clients share).

`RAY_AUTH_TOKEN` if set, else the file named by `RAY_AUTH_TOKEN_PATH`, else Ray's default `~/.ray/auth_token`;
None when there is none. `eval "$(python -m cluster env)"` exports `RAY_AUTH_TOKEN_PATH`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def read_cluster_token(environ: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    if environ.get("RAY_AUTH_TOKEN", "").strip():
        return environ["RAY_AUTH_TOKEN"].strip()
    home = Path.home() if home is None else home
    path = Path(environ["RAY_AUTH_TOKEN_PATH"]).expanduser() if environ.get("RAY_AUTH_TOKEN_PATH") else None
    try:
        token = (path or home / ".ray" / "auth_token").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None
