"""The Python steps of `make demo` that have no CLI of their own.

    python -m scripts.demo_steps newest-version iris
    python -m scripts.demo_steps register-broken iris        # prints the new version
    python -m scripts.demo_steps register-mislabelled iris   # prints the new version
    python -m scripts.demo_steps traffic --model iris --rps 15 --duration-s 600 &
    python -m scripts.demo_steps traffic --model iris --rps 30 --duration-s 25 --shift 'petal length (cm)=2.5'
    python -m scripts.demo_steps fresh-data --shift 'petal length (cm)=2.5' --out .rayship/data/iris-fresh.csv

`register-broken` registers, with its digests like any version, a model that loads and passes the replica health
check (an all-zero probe row) but raises on every real input: a preprocessing bug shipped for real, which the
canary has to catch on live traffic. `register-mislabelled` registers one that is healthy and answers every
request with HTTP 200, but was trained on shuffled class names: only live accuracy, from the labels the traffic
sends back, can tell.
"""

from __future__ import annotations

import argparse
import os
import time


def newest_version(model: str) -> str:
    from registry.catalog import list_versions

    return list_versions(model)[0].version  # newest first


def register_broken(model: str) -> str:
    from scripts.example_models import register_broken as register

    return register(model, experiment="demo-broken-candidate", sweep_id="demo").version


def register_mislabelled(model: str) -> str:
    from scripts.example_models import register_mislabelled as register

    return register(model, experiment="demo-mislabelled-candidate", sweep_id="demo").version


def fresh_data(shift: dict[str, float], rows: int, out: str) -> None:
    """Labelled rows as the drifted traffic brings them (iris rows with `shift` added, as `traffic` sends them),
    written as the CSV a retraining trains on: what a label pipeline would have collected from recent traffic."""
    import numpy as np
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    rng = np.random.default_rng(1)
    picked = rng.integers(len(data.data), size=rows)
    frame = data.data.iloc[picked].reset_index(drop=True)
    for name, delta in _checked(shift, list(data.feature_names)).items():
        frame[name] = (frame[name] + delta).round(2)
    frame["target"] = data.target.iloc[picked].to_numpy()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    frame.to_csv(out, index=False)
    print(f"wrote {rows} labelled rows to {out}")


def _checked(shift: dict[str, float], features: list[str]) -> dict[str, float]:
    for name in shift:
        if name not in features:
            raise SystemExit(f"--shift: iris has no feature {name!r}; it has {', '.join(features)}")
    return shift


def traffic(model: str, rps: float, duration_s: float, shift: dict[str, float], labels: bool) -> None:
    """Open-loop single-row predictions at `rps` of rows drawn from iris (the models' own data), with `shift`
    added to the named features; with `labels`, each row's true class is sent back as feedback every 2 s, joined
    on the response's x-request-id. Prints a tally of answers and feedback every 10 s."""
    import httpx
    import numpy as np
    from sklearn.datasets import load_iris

    data = load_iris()
    offsets = np.zeros(data.data.shape[1])
    for name, delta in _checked(shift, list(data.feature_names)).items():
        offsets[list(data.feature_names).index(name)] = delta
    base = os.environ.get("RAYSHIP_SERVE_URL", "http://127.0.0.1:8000")
    rng = np.random.default_rng(0)
    tally: dict[str, int] = {}
    pending: list[dict] = []
    started = last_print = last_labels = time.monotonic()
    with httpx.Client(base_url=base, timeout=10) as client:
        for sent in range(int(rps * duration_s)):
            time.sleep(max(started + sent / rps - time.monotonic(), 0))
            index = int(rng.integers(len(data.data)))
            row = (data.data[index] + offsets).round(2).tolist()
            try:
                answer = client.post(f"/v1/models/{model}:predict", json={"instances": [row]})
                key = f"{answer.status_code} v{answer.headers.get('x-model-version', '?')}"
                if labels and answer.status_code == 200:
                    pending.append({"request_id": answer.headers["x-request-id"], "label": int(data.target[index])})
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            tally[key] = tally.get(key, 0) + 1
            if pending and time.monotonic() - last_labels >= 2:
                _send_labels(client, model, pending, tally)
                pending, last_labels = [], time.monotonic()
            if time.monotonic() - last_print >= 10:
                print(f"[traffic] {dict(sorted(tally.items()))}", flush=True)
                last_print = time.monotonic()
        if pending:
            _send_labels(client, model, pending, tally)


def _send_labels(client, model: str, items: list[dict], tally: dict[str, int]) -> None:
    import httpx

    try:
        answer = client.post(f"/v2/models/{model}/feedback", json={"labels": items})
    except httpx.HTTPError as exc:
        tally[f"labels {type(exc).__name__}"] = tally.get(f"labels {type(exc).__name__}", 0) + 1
        return
    if answer.status_code != 200:
        tally[f"labels {answer.status_code}"] = tally.get(f"labels {answer.status_code}", 0) + 1
        return
    for outcome in ("accepted", "unknown", "expired"):
        tally[f"labels {outcome}"] = tally.get(f"labels {outcome}", 0) + answer.json()[outcome]


def _shift(text: str) -> tuple[str, float]:
    name, _, delta = text.rpartition("=")
    try:
        return name, float(delta)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--shift needs FEATURE=NUMBER, e.g. 'petal length (cm)=2.5': {text!r}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo_steps.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("newest-version").add_argument("model")
    sub.add_parser("register-broken").add_argument("model")
    sub.add_parser("register-mislabelled").add_argument("model")
    load = sub.add_parser("traffic")
    load.add_argument("--model", default="iris")
    load.add_argument("--rps", type=float, default=15.0)
    load.add_argument("--duration-s", type=float, default=600.0)
    load.add_argument("--shift", type=_shift, action="append", default=[], help="FEATURE=DELTA, repeatable")
    load.add_argument("--no-labels", dest="labels", action="store_false", help="send no feedback")
    fresh = sub.add_parser("fresh-data")
    fresh.add_argument("--shift", type=_shift, action="append", default=[], help="FEATURE=DELTA, repeatable")
    fresh.add_argument("--rows", type=int, default=600)
    fresh.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.step == "newest-version":
        print(newest_version(args.model))
    elif args.step == "register-broken":
        print(register_broken(args.model))
    elif args.step == "register-mislabelled":
        print(register_mislabelled(args.model))
    elif args.step == "fresh-data":
        fresh_data(dict(args.shift), args.rows, args.out)
    else:
        traffic(args.model, args.rps, args.duration_s, dict(args.shift), args.labels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
