"""The Ray cluster token: generated once, kept in a file only its owner can read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token")


def token_path(environ: dict[str, str] | None = None) -> Path:
    """Where Ray reads the token: `RAY_AUTH_TOKEN_PATH` if set, else Ray's default `~/.ray/auth_token`."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("RAY_AUTH_TOKEN_PATH") or DEFAULT_TOKEN_PATH).expanduser()


def ensure_token(path: Path) -> bool:
    """Create the token file (mode 0600, directory 0700) unless it exists; True when it was created now."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # an older file with loose permissions is tightened, never rewritten
        if not path.read_text().strip():
            raise ValueError(f"Ray token file {path} is empty; delete it to generate a new token") from None
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return True


def read_token(path: Path) -> str:
    return path.read_text().strip()
