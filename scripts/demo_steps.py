"""The Python steps of `make demo` that have no CLI of their own.

    python -m scripts.demo_steps newest-version iris
    python -m scripts.demo_steps register-broken iris        # prints the new version
    python -m scripts.demo_steps traffic --model iris --rps 15 --duration-s 600 &

`register-broken` registers, with its digests like any version, a model that loads and passes the replica health
check (an all-zero probe row) but raises on every real input: a preprocessing bug shipped for real, which the
canary has to catch on live traffic.
"""

from __future__ import annotations

import argparse
import os
import time

ROWS = ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5])


def newest_version(model: str) -> str:
    from registry.catalog import list_versions

    return list_versions(model)[0].version  # newest first


def register_broken(model: str) -> str:
    from scripts.example_models import register_broken as register

    return register(model, experiment="demo-broken-candidate", sweep_id="demo").version


def traffic(model: str, rps: float, duration_s: float) -> None:
    """Steady single-row predictions, open loop at `rps`; prints a status tally every 10 s."""
    import httpx

    url = f"{os.environ.get('RAYSHIP_SERVE_URL', 'http://127.0.0.1:8000')}/v1/models/{model}:predict"
    tally: dict[str, int] = {}
    started = last_print = time.monotonic()
    with httpx.Client(timeout=10) as client:
        for sent in range(int(rps * duration_s)):
            time.sleep(max(started + sent / rps - time.monotonic(), 0))
            try:
                answer = client.post(url, json={"instances": [ROWS[sent % len(ROWS)]]})
                key = f"{answer.status_code} v{answer.headers.get('x-model-version', '?')}"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            tally[key] = tally.get(key, 0) + 1
            if time.monotonic() - last_print >= 10:
                print(f"[traffic] {dict(sorted(tally.items()))}", flush=True)
                last_print = time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo_steps.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("newest-version").add_argument("model")
    sub.add_parser("register-broken").add_argument("model")
    load = sub.add_parser("traffic")
    load.add_argument("--model", default="iris")
    load.add_argument("--rps", type=float, default=15.0)
    load.add_argument("--duration-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.step == "newest-version":
        print(newest_version(args.model))
    elif args.step == "register-broken":
        print(register_broken(args.model))
    else:
        traffic(args.model, args.rps, args.duration_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
