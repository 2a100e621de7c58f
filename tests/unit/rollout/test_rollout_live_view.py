"""The live view renders what an operator needs: phase, weights, per-version figures and the checks."""

from __future__ import annotations

import io

from rich.console import Console

from rollout.core.analysis import CheckResult
from rollout.core.observation import Observation, VersionWindow
from rollout.core.spec import parse_spec
from rollout.core.state_machine import Phase, RolloutState, Totals
from rollout.persistence.history import Progress
from rollout.presentation.live_view import LiveView, render

SPEC = parse_spec({"strategy": "canary", "step_weights": [20, 40, 60, 80], "threshold": 2})
STATE = RolloutState(
    rollout_id="r7",
    model="iris",
    strategy="canary",
    champion="1",
    candidate="2",
    phase=Phase.PROGRESSING,
    step_index=1,
    candidate_weight=40,
    failed_checks=1,
    started_at_s=0,
    interval_started_at_s=10,
    message="failed checks 1/2 (candidate_error_rate: 0.25 above max 0.05); holding",
)
OBSERVATION = Observation(
    collected_at_s=10,
    window_s=2,
    versions={
        "1": VersionWindow(requests=60, errors=0, p50_ms=4.0, p99_ms=9.5),
        "2": VersionWindow(requests=40, errors=10, p50_ms=5.0, p99_ms=12.25),
    },
)
CHECKS = [
    CheckResult(name="candidate_error_rate", passed=False, value=0.25, limit=0.05, reason="0.25 above max 0.05"),
    CheckResult(name="candidate_p99_latency_ms", passed=True, value=12.25, limit=1000, reason="12.25 within bounds"),
]


def text_of(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_render_shows_phase_weights_figures_and_checks() -> None:
    lines = [line.rstrip() for line in text_of(render(STATE, SPEC, OBSERVATION, CHECKS)).splitlines()]
    assert lines[0] == ("iris 1 -> 2 (canary, rollout r7)  Progressing  step 2/4  failed checks 1/2  inconclusive 0/10")
    champion = next(line for line in lines if line.startswith("1 "))
    candidate = next(line for line in lines if line.startswith("2 "))
    assert champion.split() == ["1", "champion", "60%", "30.0", "0.00%", "4.0", "9.5"]
    assert candidate.split() == ["2", "candidate", "40%", "20.0", "25.00%", "5.0", "12.2"]
    assert any(line.split()[:2] == ["candidate_error_rate", "FAIL"] for line in lines)
    assert lines[-1] == "failed checks 1/2 (candidate_error_rate: 0.25 above max 0.05); holding"


def test_render_before_any_traffic() -> None:
    text = text_of(render(STATE, SPEC, None, []))
    assert "2        candidate" in text or "candidate" in text
    candidate = next(line for line in text.splitlines() if line.startswith("2 "))
    assert candidate.split() == ["2", "candidate", "40%", "-", "-", "-", "-"]


def test_live_view_keeps_the_last_analysed_interval() -> None:
    output = io.StringIO()
    view = LiveView(SPEC, Console(file=output, width=120, color_system=None, force_terminal=False))
    view(Progress(at_s=10, action="hold", state=STATE, observation=OBSERVATION, checks=CHECKS))
    poll = Observation(collected_at_s=11, window_s=1, versions={})  # "interval not over yet": not analysed
    view(Progress(at_s=11, action="hold", state=STATE, observation=poll, checks=[]))
    view.close()
    assert view.observation == OBSERVATION
    assert view.checks == CHECKS
    assert "25.00%" in output.getvalue()


def test_a_shadow_shows_the_candidates_agreement_last_interval_and_overall() -> None:
    spec = parse_spec({"strategy": "shadow", "iterations": 5, "mirror_percent": 50})
    state = STATE.model_copy(
        update={
            "strategy": "shadow",
            "candidate_weight": 0,
            "mirror_percent": 50,
            "candidate_totals": Totals(requests=120, errors=0, shadow_rows_compared=120, shadow_rows_agreed=111),
            "message": "step 3/5 at 0% passed its checks",
        }
    )
    mirrored = VersionWindow(
        requests=40, errors=0, p50_ms=5.0, p99_ms=12.0, shadow_rows_compared=40, shadow_rows_agreed=38
    )
    observation = OBSERVATION.model_copy(update={"versions": {"1": OBSERVATION.versions["1"], "2": mirrored}})
    lines = [line.rstrip() for line in text_of(render(state, spec, observation, [])).splitlines()]
    assert "agreement with version 1: last interval 95.0% (38/40 rows), overall 92.5% (111/120 rows)" in lines
    before_any = [
        line.rstrip()
        for line in text_of(
            render(state.model_copy(update={"candidate_totals": Totals()}), spec, None, [])
        ).splitlines()
    ]
    assert "agreement with version 1: last interval no rows compared, overall no rows compared" in before_any


def test_other_strategies_show_no_agreement() -> None:
    assert "agreement" not in text_of(render(STATE, SPEC, OBSERVATION, CHECKS))
