"""`python -m rollout` / `rayship-rollout`: drive a rollout (canary, bluegreen, shadow, abtest), abort one, or show
where one stands. Addresses come from `eval "$(python -m cluster env)"`.

Exit codes: 0 promoted (or concluded) / abort done, 1 rolled back or aborted, 2 bad input (unknown model or
version, invalid spec, missing setting, --force without --reason), 3 refused or unreachable (an archived candidate, or
one the champion gate did not pass without --force; another driver holds the lease; cluster down).
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from rich.console import Console

from rayship.cluster_token import read_cluster_token
from rayship.errors import LeaseHeldError, RayshipError
from rayship.lease import LeaseFile, local_holder_alive, local_owner_id
from registry.uri import parse_model_uri
from rollout import admission, environment, serve_file
from rollout.clock import SystemClock
from rollout.core.spec import RolloutSpec
from rollout.core.state_machine import Phase
from rollout.driver import RolloutDriver
from rollout.errors import (
    CandidateModelMismatchError,
    MissingOptionError,
    NoRolloutError,
    StrategyMismatchError,
)
from rollout.exit_codes import OK, ROLLED_BACK, parse_or_exit_code, reported
from rollout.persistence.history import Progress, ProgressLog
from rollout.persistence.store import RolloutStore
from rollout.presentation.live_view import LiveView
from rollout.presentation.report import write_report
from rollout.serve_file import SyncedRouter
from rollout.spec_file import STRATEGIES, load_spec

SPEC_DIR = Path(__file__).resolve().parents[1] / "configs" / "rollouts"
PROMOTED = OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rayship-rollout", description="Roll model versions out on Ray Serve.")
    commands = parser.add_subparsers(dest="command", required=True)
    for strategy in STRATEGIES:
        command = commands.add_parser(strategy, help=f"run a {strategy} rollout of a candidate version")
        _model_and_state(command)
        command.add_argument("--candidate", required=True, help="models:/M/N or models:/M@alias")
        command.add_argument("--spec", type=Path, default=SPEC_DIR / f"{strategy}.yaml", help="rollout spec YAML")
        command.add_argument("--reports-dir", type=Path, default=Path("reports"), help="where reports are written")
        command.add_argument("--no-live", action="store_true", help="no live progress view")
        command.add_argument(
            "--force", action="store_true", help="roll out a candidate the champion gate did not pass (needs --reason)"
        )
        command.add_argument("--reason", help="why --force; recorded on the candidate version (rayship.force_reason)")
        _router_options(command)
    abort = commands.add_parser("abort", help="roll the model's rollout back now (or ask its driver to)")
    _model_and_state(abort)
    abort.add_argument("--reason", default="aborted by operator", help="recorded in the event log")
    _router_options(abort)
    _model_and_state(commands.add_parser("status", help="where the model's rollout stands"))
    return parser


def _model_and_state(command: argparse.ArgumentParser) -> None:
    command.add_argument("--model", required=True, help="registered model name (as in the gateway policy)")
    command.add_argument("--state-dir", type=Path, default=Path(".rayship/rollouts"), help="durable rollout state")


def _router_options(command: argparse.ArgumentParser) -> None:
    serve_file.add_options(command)
    command.add_argument("--router", choices=["serve", "rayservice"], default="serve", help="how splits are applied")
    command.add_argument("--rayservice", help="RayService name (with --router rayservice)")
    command.add_argument("--namespace", default="default", help="RayService namespace")
    command.add_argument("--kube-context", help="kubeconfig context (with --router rayservice)")


def main(argv: list[str] | None = None) -> int:
    args = parse_or_exit_code(build_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        if args.command == "status":
            return _status(args)
        if args.command == "abort":
            return _abort(args)
        return _rollout(args)
    except RayshipError as exc:
        return reported(exc)


def _rollout(args: argparse.Namespace) -> int:
    admission.check_force(args.force, args.reason)
    spec = load_spec(args.spec)
    if spec.strategy != args.command:
        raise StrategyMismatchError(str(args.spec), spec.strategy, args.command)
    candidate = _candidate_version(args.candidate, args.model)
    history = ProgressLog(args.state_dir, args.model)
    view = None if args.no_live else LiveView(spec)

    def on_progress(progress: Progress) -> None:
        history.append(progress)
        if view is not None:
            view(progress)

    driver = _driver(args, spec, on_progress)
    _admit(args, candidate)  # before the driver starts: rollout/admission.py
    try:
        final = driver.run(candidate)
    finally:
        if view is not None:
            view.close()
            print()  # off a terminal, rich leaves the last frame's line open
    events = [event for event in driver.store.events() if event.rollout_id == final.rollout_id]
    files = write_report(args.reports_dir, history.read(final.rollout_id), events)
    print(f"Rollout {final.rollout_id} of '{args.model}': {final.phase.value} ({final.message})")
    print(f"Report: {files.markdown}")
    print(f"Plot:   {files.plot}")
    return PROMOTED if final.phase is Phase.SUCCEEDED else ROLLED_BACK


def _admit(args: argparse.Namespace, version: str) -> None:
    admitted = admission.admit_candidate(
        args.model, version, strategy=args.command, candidate=args.candidate, force=args.force, reason=args.reason
    )
    if admitted.forced:
        print(
            f"Forced past the champion gate: {args.model}/{version} has rayship.gate={admitted.gate}; "
            f"reason recorded on the version: {admitted.reason}"
        )


def _candidate_version(candidate: str, model: str) -> str:
    ref = parse_model_uri(candidate)  # a wrong URI or model is reported before MLflow is asked anything
    if ref.name != model:
        raise CandidateModelMismatchError(candidate, ref.name, model)
    return resolve_version(candidate)


def resolve_version(candidate: str) -> str:
    from registry.api import resolve  # MLflow is imported only by commands that need it

    return resolve(candidate).version


def _abort(args: argparse.Namespace) -> int:
    spec = load_spec(SPEC_DIR / "canary.yaml")  # abort_now takes no analysis decisions; the warm window is 0 here
    driver = _driver(args, spec.model_copy(update={"warm_window_s": 0.0}), None)
    before = driver.store.load()
    try:
        state = driver.abort_now(args.reason)
    except LeaseHeldError as held:
        driver.store.request_abort(args.reason)
        print(f"Abort requested; the running driver '{held.holder}' acts on it at its next step")
        return PROMOTED
    if state is None:
        raise NoRolloutError(args.model, args.state_dir)
    if before is not None and before.state == state:
        print(f"Rollout {state.rollout_id} of '{args.model}' already finished ({state.phase.value}); nothing to abort")
        return PROMOTED
    print(f"Rollout {state.rollout_id} of '{args.model}': {state.phase.value} ({state.message})")
    return PROMOTED


def _status(args: argparse.Namespace) -> int:
    stored = RolloutStore(args.state_dir, args.model).load()
    if stored is None:
        raise NoRolloutError(args.model, args.state_dir)
    state, console = stored.state, Console()
    console.print(
        f"{state.model}: {state.champion} -> {state.candidate} ({state.strategy}, rollout {state.rollout_id})"
    )
    console.print(f"phase {state.phase.value}, candidate weight {state.candidate_weight} %, "
                  f"failed checks {state.failed_checks}, inconclusive {state.inconclusive}")  # fmt: skip
    console.print(f"last decision: {state.message or '-'}")
    lease = LeaseFile(args.state_dir, args.model).read()
    console.print(f"driver: {lease.owner if lease is not None else 'none running'}")
    return 0


def _driver(args: argparse.Namespace, spec: RolloutSpec, on_progress) -> RolloutDriver:
    from rollout.adapters.metrics_source import GatewayStatsSource
    from rollout.adapters.mlflow_registry import MlflowRolloutRegistry

    token = read_cluster_token()
    router = _router(args, token)
    file = serve_file.chosen(args)
    if file is not None:
        file.check(router.applied(), args.model)  # a file it could not keep in step is refused up front
        router = SyncedRouter(router, file)
    return RolloutDriver(
        model=args.model,
        spec=spec,
        router=router,
        metrics=GatewayStatsSource(environment.required(environment.SERVE_URL), token),
        store=RolloutStore(args.state_dir, args.model),
        lease=LeaseFile(args.state_dir, args.model),
        clock=SystemClock(),
        owner=local_owner_id(uuid.uuid4().hex[:8]),
        registry=MlflowRolloutRegistry(),
        on_progress=on_progress,
        holder_alive=local_holder_alive,
    )


def _router(args: argparse.Namespace, token: str | None):
    if args.router == "rayservice":
        if not args.rayservice:
            raise MissingOptionError("--rayservice NAME", needed_by="--router rayservice")
        from rollout.adapters.routers.rayservice import connect

        return connect(args.rayservice, args.namespace, context=args.kube_context)
    from rollout.adapters.routers.serve_rest import ServeRestRouter

    return ServeRestRouter(environment.required(environment.DASHBOARD), token, SystemClock())
