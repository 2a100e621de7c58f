"""The per-model driver lease: a second owner is refused by name, an expired lease is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rayship.errors import LeaseHeldError, LeaseLostError
from rayship.lease import Lease, LeaseFile, is_held, local_holder_alive, local_owner_id, may_take

LEASE = Lease(model="iris", owner="a", acquired_at_s=0, expires_at_s=30)


@pytest.mark.parametrize(
    ("lease", "owner", "now_s", "held", "takeable"),
    [
        (None, "b", 10, False, True),
        (LEASE, "b", 10, True, False),
        (LEASE, "a", 10, True, True),
        (LEASE, "b", 29.9, True, False),
        (LEASE, "b", 30, False, True),
        (LEASE, "b", 45, False, True),
    ],
)
def test_pure_lease_decisions(lease: Lease | None, owner: str, now_s: float, held: bool, takeable: bool) -> None:
    assert is_held(lease, now_s) is held
    assert may_take(lease, owner, now_s) is takeable


def test_second_owner_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.acquire("host:1:abc", ttl_s=30, now_s=100)
    with pytest.raises(LeaseHeldError) as caught:
        leases.acquire("host:2:def", ttl_s=30, now_s=110)
    assert str(caught.value) == (
        "Rollout of model 'iris' is driven by 'host:1:abc' (lease expires in 20 s); "
        "stop that driver or wait for its lease to expire"
    )
    assert caught.value.status_code == 409
    assert leases.read().owner == "host:1:abc"


def test_expired_lease_is_taken_over_and_the_old_owner_loses_it(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.acquire("a", ttl_s=30, now_s=100)
    taken = leases.acquire("b", ttl_s=30, now_s=131)
    assert (taken.owner, taken.acquired_at_s, taken.expires_at_s) == ("b", 131, 161)
    with pytest.raises(LeaseLostError) as caught:
        leases.renew("a", ttl_s=30, now_s=132)
    assert str(caught.value) == "Driver 'a' lost the rollout lease of model 'iris' (now held by 'b')"


def test_owner_renews_and_reacquires_its_own_lease(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.acquire("a", ttl_s=30, now_s=100)
    assert leases.renew("a", ttl_s=30, now_s=120).expires_at_s == 150
    again = leases.acquire("a", ttl_s=30, now_s=125)
    assert (again.acquired_at_s, again.expires_at_s) == (100, 155)


def test_release_frees_the_lease_only_for_its_owner(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.acquire("a", ttl_s=30, now_s=100)
    leases.release("b")
    assert leases.read().owner == "a"
    leases.release("a")
    assert leases.read() is None
    with pytest.raises(LeaseLostError, match=r"\(no longer held\)$"):
        leases.renew("a", ttl_s=30, now_s=101)
    assert leases.acquire("b", ttl_s=30, now_s=101).owner == "b"


def test_unreadable_lease_file_counts_as_free(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.directory.mkdir(parents=True)
    leases.path.write_text('{"model": "iris", "own')  # its writer died mid-write
    assert leases.acquire("b", ttl_s=30, now_s=1).owner == "b"


def test_leases_are_per_model(tmp_path: Path) -> None:
    LeaseFile(tmp_path, "iris").acquire("a", ttl_s=30, now_s=100)
    assert LeaseFile(tmp_path, "wine").acquire("b", ttl_s=30, now_s=100).owner == "b"


def test_a_driver_in_another_process_is_refused(tmp_path: Path) -> None:
    LeaseFile(tmp_path, "iris").acquire("first", ttl_s=3600, now_s=1e9)
    script = (
        "import sys; from pathlib import Path; from rayship.lease import LeaseFile; "
        "from rayship.errors import LeaseHeldError\n"
        "try:\n    LeaseFile(Path(sys.argv[1]), 'iris').acquire('second', 60, 1e9 + 1)\n"
        "except LeaseHeldError as exc:\n    print(exc); raise SystemExit(3)"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 3
    assert "driven by 'first'" in result.stdout


def test_a_holder_known_to_be_dead_is_taken_over(tmp_path: Path) -> None:
    leases = LeaseFile(tmp_path, "iris")
    leases.acquire("host:1:dead", ttl_s=600, now_s=100)
    with pytest.raises(LeaseHeldError):
        leases.acquire("me", ttl_s=600, now_s=101, holder_alive=lambda owner: True)
    taken = leases.acquire("me", ttl_s=600, now_s=101, holder_alive=lambda owner: owner != "host:1:dead")
    assert taken.owner == "me"


def test_local_holder_liveness() -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    assert local_owner_id("tok") == f"{socket.gethostname()}:{os.getpid()}:tok"
    assert local_holder_alive(local_owner_id("tok"))
    assert not local_holder_alive(f"{socket.gethostname()}:{dead_pid}:tok")
    assert local_holder_alive(f"another-host:{dead_pid}:tok")  # cannot tell: assume it runs
    assert local_holder_alive("free-form-owner")
