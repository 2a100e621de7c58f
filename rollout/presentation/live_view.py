"""The live progress view of a rollout in the terminal (rich): phase, weights, per-version rps, error rate,
p50/p99, a shadow's agreement and the checks of the last analysed interval. `render` is pure; `LiveView` is the
`on_progress` callback that keeps it on screen."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rollout.core.analysis import CheckResult, describe_agreement
from rollout.core.observation import Observation, VersionWindow
from rollout.core.spec import RolloutSpec
from rollout.core.state_machine import Phase, RolloutState
from rollout.persistence.history import Progress

PHASE_STYLES = {
    Phase.INITIALIZED: "cyan",
    Phase.PROGRESSING: "blue",
    Phase.PAUSED: "yellow",
    Phase.PROMOTING: "green",
    Phase.SUCCEEDED: "bold green",
    Phase.FAILED: "bold red",
}


def render(state: RolloutState, spec: RolloutSpec, observation: Observation | None, checks: list[CheckResult]) -> Group:
    steps = len(spec.schedule())
    headline = Text.assemble(
        (f"{state.model} ", "bold"),
        f"{state.champion} -> {state.candidate} ({state.strategy}, rollout {state.rollout_id})  ",
        (state.phase.value, PHASE_STYLES[state.phase]),
        f"  step {max(state.step_index + 1, 0)}/{steps}",
        f"  failed checks {state.failed_checks}/{spec.threshold}",
        f"  inconclusive {state.inconclusive}/{spec.max_inconclusive}",
    )
    parts: list = [headline, _versions_table(state, observation)]
    if spec.strategy == "shadow":
        parts.append(_agreement_line(state, observation))
    if checks:
        parts.append(_checks_table(checks))
    parts.append(Text(state.message, style="dim"))
    return Group(*parts)


def _versions_table(state: RolloutState, observation: Observation | None) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("version", "role", "weight", "req/s", "error rate", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("version", "role") else "right")
    weights = state.weights()
    roles = ((state.champion, "champion"), (state.candidate, "candidate"))
    for version, role in roles:
        window = observation.window(version) if observation is not None else None
        window_s = observation.window_s if observation is not None else 0
        table.add_row(version, role, f"{weights[version]}%", *_figures(window, window_s))
    return table


def _figures(window: VersionWindow | None, window_s: float) -> tuple[str, str, str, str]:
    if window is None or not window.requests:
        return ("-", "-", "-", "-")
    rate = f"{window.errors / window.requests:.2%}"
    p50 = f"{window.p50_ms:.1f}" if window.p50_ms is not None else "-"
    p99 = f"{window.p99_ms:.1f}" if window.p99_ms is not None else "-"
    return (f"{window.requests / window_s:.1f}", rate, p50, p99)


def _agreement_line(state: RolloutState, observation: Observation | None) -> Text:
    """How often the candidate's mirrored answers equalled the live ones: last interval, and every analysed one."""
    window = observation.window(state.candidate) if observation is not None else VersionWindow()
    totals = state.candidate_totals
    last = describe_agreement(window.shadow_rows_compared, window.shadow_rows_agreed)
    overall = describe_agreement(totals.shadow_rows_compared, totals.shadow_rows_agreed)
    return Text(f"agreement with version {state.champion}: last interval {last}, overall {overall}")


def _checks_table(checks: list[CheckResult]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("check", "", "reason"):
        table.add_column(column)
    for check in checks:
        mark = Text("pass", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(check.name, mark, check.reason)
    return table


class LiveView:
    """An `on_progress` callback: redraws the view, keeping the last analysed interval on screen."""

    def __init__(self, spec: RolloutSpec, console: Console | None = None) -> None:
        self.spec = spec
        self.console = console or Console()
        self.live: Live | None = None
        self.observation: Observation | None = None
        self.checks: list[CheckResult] = []

    def __call__(self, progress: Progress) -> None:
        observation = progress.observation
        if observation is not None and progress.state.interval_started_at_s >= observation.collected_at_s:
            self.observation, self.checks = observation, list(progress.checks)
        view = render(progress.state, self.spec, self.observation, self.checks)
        if self.live is None:
            self.live = Live(view, console=self.console, auto_refresh=False, transient=False)
            self.live.start()
        self.live.update(view, refresh=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
