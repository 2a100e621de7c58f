"""The e2e tier drives whole flows through the commands a user types; Ray clients in it speak token auth."""

from __future__ import annotations

import os

from cluster.token import token_path

os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN_PATH", str(token_path()))
