"""One driver per model: a lease file `<root>/<model>/lease.json` holding the owner id and an expiry.

Rollout drivers take one per model (`purpose` "rollout"); the retraining trigger takes its own ("retraining").

Acquire creates the file with `O_EXCL`; taking over an expired lease, renewing and releasing compare the owner
first. All of it happens under `fcntl.flock` on a sibling `lease.lock`, so two drivers never both see the
lease free. Whether a lease is held is a pure function of (lease, now_s). Times are wall-clock seconds
(`time.time()`), since the lease is compared across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rayship.atomic_file import write_atomically
from rayship.errors import LeaseHeldError, LeaseLostError

LEASE_FILE = "lease.json"
LOCK_FILE = "lease.lock"


class Lease(BaseModel):
    """Who drives a model's rollout, and until when unless renewed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Registered model name.")
    owner: str = Field(min_length=1, description="Driver id, e.g. 'host:pid:random'.")
    acquired_at_s: float = Field(description="When the owner first took the lease (Unix time, s).")
    expires_at_s: float = Field(description="When the lease lapses unless renewed (Unix time, s).")


def is_held(lease: Lease | None, now_s: float) -> bool:
    """A lease is held until its expiry instant (exclusive)."""
    return lease is not None and now_s < lease.expires_at_s


def may_take(lease: Lease | None, owner: str, now_s: float, holder_alive: bool = True) -> bool:
    """`owner` may take (or keep) the lease when it is free, expired, already theirs, or its holder is known
    to be dead."""
    return not is_held(lease, now_s) or lease.owner == owner or not holder_alive


class LeaseFile:
    """The lease of one model's rollouts under `root/<model>/`."""

    def __init__(self, root: Path, model: str, purpose: str = "rollout") -> None:
        self.model = model
        self.purpose = purpose
        self.directory = Path(root) / model
        self.path = self.directory / LEASE_FILE
        self.lock_path = self.directory / LOCK_FILE

    def read(self) -> Lease | None:
        """The current lease; None when absent or unreadable (its writer died mid-write, holding no lock)."""
        try:
            return Lease.model_validate_json(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValidationError):
            return None

    def acquire(
        self, owner: str, ttl_s: float, now_s: float, holder_alive: Callable[[str], bool] | None = None
    ) -> Lease:
        """Take the lease, or raise LeaseHeldError naming the driver that holds it. `holder_alive(owner)` may
        say that a holder is gone for sure (a dead process on this host); its lease is then taken over."""
        with self._locked():
            lease = Lease(model=self.model, owner=owner, acquired_at_s=now_s, expires_at_s=now_s + ttl_s)
            if self._create_exclusively(lease):
                return lease
            current = self.read()
            alive = current is None or holder_alive is None or holder_alive(current.owner)
            if not may_take(current, owner, now_s, alive):
                raise LeaseHeldError(self.model, current.owner, current.expires_at_s - now_s, self.purpose)
            if current is not None and current.owner == owner:
                lease = lease.model_copy(update={"acquired_at_s": current.acquired_at_s})
            write_atomically(self.path, lease.model_dump_json())
            return lease

    def renew(self, owner: str, ttl_s: float, now_s: float) -> Lease:
        """Extend our lease; raise LeaseLostError when it is gone or someone else's."""
        with self._locked():
            current = self.read()
            if current is None or current.owner != owner:
                raise LeaseLostError(self.model, owner, current.owner if current is not None else None, self.purpose)
            lease = current.model_copy(update={"expires_at_s": now_s + ttl_s})
            write_atomically(self.path, lease.model_dump_json())
            return lease

    def release(self, owner: str) -> None:
        """Give the lease up; a lease someone else holds by now is left alone."""
        with self._locked():
            current = self.read()
            if current is not None and current.owner == owner:
                self.path.unlink()

    def _create_exclusively(self, lease: Lease) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, lease.model_dump_json().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def local_owner_id(token: str) -> str:
    """A driver id that lets a later driver on this host see whether its holder still runs: host:pid:token."""
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def local_holder_alive(owner: str) -> bool:
    """False only for a holder on this host whose process is gone; anything else may still be running."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
