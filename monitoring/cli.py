"""`python -m monitoring apply|profile|status|report`: model monitoring from the command line.

    python -m monitoring apply configs/monitoring/iris.yaml        # store the spec the monitor judges iris by
    python -m monitoring profile models:/iris/3 --data ref.csv     # backfill a version's reference profile
    python -m monitoring status --model iris                       # drift per version, from the live monitor
    python -m monitoring report --model iris                       # Markdown + PNG in .rayship/reports
    python -m monitoring watch --model iris                        # retrain on alerts, canary the result
    python -m monitoring rules                                     # the alert rules of every spec, as YAML

`status` reads the gateway's `GET /-/rayship/monitoring?model=M` with the cluster token (what
`eval "$(python -m cluster env)"` exports: `RAYSHIP_SERVE_URL`, `RAY_AUTH_TOKEN_PATH`); `report` reads that and
`GET /-/rayship/monitoring/detail?model=M` (reference against live bins, accuracy over time) the same way, and
shows the model's retraining cycles from the registry. `watch` reads Prometheus' alerts (`RAYSHIP_PROMETHEUS_URL`)
and submits jobs to the Ray dashboard (`RAY_API_SERVER_ADDRESS`), or creates RayJobs with `--runner kuberay`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from monitoring.errors import MonitorUnreachableError
from monitoring.monitor import ModelStatus, VersionDetail
from rayship.cluster_token import read_cluster_token
from rayship.errors import InvalidInputError, RayshipError

EXIT_OK, EXIT_ERROR = 0, 1
DEFAULT_SERVE_URL = "http://127.0.0.1:8000"
MONITORING_PATH, POLICY_PATH = "/-/rayship/monitoring", "/-/rayship/policy"
DETAIL_PATH = MONITORING_PATH + "/detail"
DEFAULT_REPORT_DIR = Path(".rayship/reports")
REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = REPO_ROOT / "configs" / "monitoring"
EXIT_REFUSED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m monitoring", description="rayship's model monitoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="validate a monitoring spec and store it on its registered model")
    apply.add_argument("spec", type=Path, help="configs/monitoring/<model>.yaml")
    profile = commands.add_parser("profile", help="backfill the reference profile of a version registered without")
    profile.add_argument("model_uri", help="models:/iris/3, iris@champion, ...")
    profile.add_argument("--data", type=Path, required=True, help="CSV or Parquet file of reference rows")
    profile.add_argument("--target", help="label column in the file, left out of the profile")
    profile.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature (default 10)")
    status = commands.add_parser("status", help="drift per version of one model, from the live monitor")
    status.add_argument("--model", required=True)
    status.add_argument("--json", action="store_true", help="print the monitor's JSON instead of tables")
    status.add_argument("--serve-url", default=os.environ.get("RAYSHIP_SERVE_URL", DEFAULT_SERVE_URL))
    report = commands.add_parser("report", help="write a Markdown report and a PNG of one model's drift and accuracy")
    report.add_argument("--model", required=True)
    report.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT_DIR, help=f"directory of the report (default {DEFAULT_REPORT_DIR})"
    )
    report.add_argument("--serve-url", default=os.environ.get("RAYSHIP_SERVE_URL", DEFAULT_SERVE_URL))
    _watch_parser(commands)
    rules = commands.add_parser("rules", help="print the Prometheus alert rules of every monitoring spec")
    rules.add_argument("--specs", type=Path, default=SPECS_DIR, help=f"directory of specs (default {SPECS_DIR})")
    rules.add_argument("--prometheus-rule", action="store_true", help="as a PrometheusRule manifest (KubeRay)")
    return parser


def _watch_parser(commands: argparse._SubParsersAction) -> None:
    watch = commands.add_parser(
        "watch", help="retrain when a quality alert fires: a Ray Job, the champion gate, then a canary"
    )
    watch.add_argument("--model", required=True)
    watch.add_argument("--spec", type=Path, help="monitoring spec (default configs/monitoring/<model>.yaml)")
    watch.add_argument(
        "--prometheus",
        default=os.environ.get("RAYSHIP_PROMETHEUS_URL", "http://127.0.0.1:9090"),
        help="Prometheus URL (env RAYSHIP_PROMETHEUS_URL)",
    )
    watch.add_argument("--interval-s", type=float, default=5.0, help="seconds between polls (default 5)")
    watch.add_argument("--runner", choices=["ray", "kuberay"], default="ray", help="Ray Jobs API, or RayJobs")
    watch.add_argument(
        "--dashboard-url",
        default=os.environ.get("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:8265"),
        help="Ray dashboard for --runner ray (env RAY_API_SERVER_ADDRESS)",
    )
    watch.add_argument("--rayjob-template", type=Path, help="rendered RayJob template for --runner kuberay")
    watch.add_argument("--state-dir", type=Path, default=Path(".rayship"), help="lease, canary state, logs")
    watch.add_argument("--canary-arg", action="append", default=[], help="extra argument of the canary driver")
    watch.add_argument("--exit-after-cycle", action="store_true", help="stop once a retraining cycle has ended")
    watch.add_argument("--max-polls", type=int, help="stop after this many polls")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, Console())
    except RayshipError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_ERROR


def _apply(args: argparse.Namespace, console: Console) -> int:
    from monitoring.spec import load_spec
    from registry import tags
    from registry.catalog import set_model_tag

    spec = load_spec(args.spec)
    set_model_tag(spec.model, tags.MONITORING_SPEC, spec.model_dump_json())
    console.print(f"stored the monitoring spec of '{spec.model}'; its replicas pass it to the monitor within 30 s")
    return EXIT_OK


def _profile(args: argparse.Namespace, console: Console) -> int:
    from monitoring.backfill import backfill_profile

    profile = backfill_profile(args.model_uri, args.data, args.target, args.bins)
    console.print(
        f"added a reference profile to {args.model_uri}: {len(profile.features)} features from {profile.rows} rows"
        "; replicas started from now on monitor it"
    )
    return EXIT_OK


def _status(args: argparse.Namespace, console: Console) -> int:
    from monitoring.status_view import render_cycles, render_status

    status = ModelStatus.model_validate(_get(args.serve_url, MONITORING_PATH, args.model))
    if args.json:
        console.print_json(json.dumps(status.model_dump(mode="json")))
        return EXIT_OK
    console.print(render_status(status, _served_versions(args.serve_url, args.model)))
    try:
        console.print(render_cycles(args.model, _cycles(args.model)))
    except RayshipError as exc:  # the monitor's answer above stands on its own
        console.print(f"retraining cycles of {args.model}: unavailable ({exc})", markup=False, highlight=False)
    return EXIT_OK


def _report(args: argparse.Namespace, console: Console) -> int:
    from monitoring.report import write_report

    status = ModelStatus.model_validate(_get(args.serve_url, MONITORING_PATH, args.model))
    raw = _get(args.serve_url, DETAIL_PATH, args.model)
    details = {version: VersionDetail.model_validate(detail) for version, detail in raw.items()}
    try:
        files = write_report(status, details, args.out, time.time())
    except OSError as exc:
        raise RayshipError(f"Cannot write the report to {args.out}: {exc.strerror or exc}") from exc
    for path in (files.markdown, files.plot):
        console.print(str(path), markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def _watch(args: argparse.Namespace, console: Console) -> int:
    from monitoring.retrain.run import WatchOptions, run_watch
    from monitoring.spec import load_spec
    from rayship.errors import LeaseHeldError

    spec = load_spec(args.spec or SPECS_DIR / f"{args.model}.yaml")
    if spec.model != args.model:
        raise InvalidInputError(f"Monitoring spec '{args.spec}' is for model '{spec.model}', not '{args.model}'")
    if spec.retrain is None:
        raise InvalidInputError(f"Monitoring spec of '{spec.model}' has no retrain section: nothing to trigger")
    if args.runner == "kuberay" and args.rayjob_template is None:
        raise InvalidInputError("--runner kuberay needs --rayjob-template (the rendered RayJob)")
    options = WatchOptions(
        prometheus_url=args.prometheus,
        interval_s=args.interval_s,
        runner=args.runner,
        dashboard_url=args.dashboard_url,
        rayjob_template=args.rayjob_template,
        state_dir=args.state_dir.absolute(),
        canary_args=args.canary_arg,
        exit_after_cycle=args.exit_after_cycle,
        max_polls=args.max_polls,
    )

    def say(line: str) -> None:
        console.print(f"{time.strftime('%H:%M:%S')} {line}", markup=False, highlight=False, soft_wrap=True)

    try:
        return run_watch(spec, options, say)
    except LeaseHeldError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]refused:[/red] {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return EXIT_OK


def _rules(args: argparse.Namespace, console: Console) -> int:
    import yaml

    from monitoring.alert_rules import load_specs, prometheus_rule, rules_document

    specs = load_specs(args.specs)
    document = prometheus_rule(specs) if args.prometheus_rule else rules_document(specs)
    print(yaml.safe_dump(document, sort_keys=False), end="")
    return EXIT_OK


def _cycles(model: str) -> list:
    from monitoring.retrain.lineage import load_cycles
    from rayship.errors import ModelNotFoundError
    from registry.connection import connect

    try:
        return load_cycles(connect(), model)
    except ModelNotFoundError:
        return []


def _served_versions(serve_url: str, model: str) -> list[str]:
    policy = _get(serve_url, POLICY_PATH, None).get("policy", {})
    routes = policy.get("models", {}).get(model, {}).get("versions", [])
    return [str(route["version"]) for route in routes]


def _get(serve_url: str, path: str, model: str | None) -> dict:
    import httpx

    url = serve_url.rstrip("/") + path
    token = read_cluster_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url, params={"model": model} if model else None, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise MonitorUnreachableError(url, f"{type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise MonitorUnreachableError(url, f"HTTP {response.status_code}: {_error_text(response)}")
    return response.json()


def _error_text(response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:200]


COMMANDS = {
    "apply": _apply,
    "profile": _profile,
    "status": _status,
    "report": _report,
    "watch": _watch,
    "rules": _rules,
}
