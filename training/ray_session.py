"""Joining the running Ray cluster (RAY_ADDRESS) or starting a private local one, friendly to a shared machine."""

from __future__ import annotations

import os

import ray

from training.errors import RayUnavailableError

# One BLAS/OpenMP thread per trial process: trials already run side by side on few cores.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def ensure_ray(environ: dict[str, str] | None = None, local_cpus: int | None = None) -> bool:
    """Connect to `RAY_ADDRESS` if set, else start a local Ray; returns True when this call started Ray.

    Without RAY_ADDRESS we pass `address="local"`: plain `ray.init()` would attach to whatever cluster was last
    started on this machine, which on a shared host may be someone else's.
    """
    if ray.is_initialized():
        return False
    env = os.environ if environ is None else environ
    address = env.get("RAY_ADDRESS")
    # No job runtime_env: one keeps Ray from using its prestarted workers, and every trial actor then waited
    # 3-6 s for a new worker process (measured: 0.7-0.9 s without). `cluster up` already starts its raylets with
    # THREAD_ENV; a local instance inherits it from this process; `run_trial` also caps thread pools itself.
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            for name, value in THREAD_ENV.items():
                os.environ.setdefault(name, value)
            ray.init(
                address="local",
                num_cpus=local_cpus or min(os.cpu_count() or 2, 2),
                include_dashboard=False,
                log_to_driver=False,
            )
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise RayUnavailableError(address or "a new local instance", str(exc).splitlines()[0]) from exc
    return True
