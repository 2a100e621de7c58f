"""Whether to start a retraining now: a pure function of the firing alerts, the spec, the history and the clock.

Hysteresis: an alert must have fired for `hold_s` (on top of its rule's `for:`), and one alert window (name,
version, activeAt) starts at most one cycle, so a condition that outlives its retraining does not retrain again
until it clears and fires anew. Cooldown: no cycle starts within `cooldown_s` of the previous one, whatever its
outcome, so a failing job is not resubmitted in a loop.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import Field

from monitoring.contract import Strict
from monitoring.retrain.cycle import AlertRef, Cycle
from monitoring.spec import RetrainSpec

Action = Literal["submit", "wait", "idle", "resume"]


class FiringAlert(Strict):
    """An alert as Prometheus' `/api/v1/alerts` reports it."""

    name: str = Field(description="Its alertname label.")
    state: Literal["pending", "firing", "inactive"] = Field(description="Prometheus' state of the alert.")
    labels: dict[str, str] = Field(description="Every label, alertname included.")
    active_at_s: float = Field(description="activeAt, as Unix time in seconds.")
    value: float | None = Field(None, description="The expression's value at the last evaluation.")


class Choice(Strict):
    """What the trigger does now, and why (printed on every poll that changes it)."""

    action: Action = Field(description="submit a new cycle, resume an open one, wait, or stay idle.")
    reason: str = Field(description="Why, for a person.")
    alert: AlertRef | None = Field(None, description="The alert a new cycle answers (submit only).")
    cycle_id: str | None = Field(None, description="The new cycle's id (submit) or the open one's (resume).")


def choose(
    alerts: list[FiringAlert],
    spec: RetrainSpec,
    model: str,
    champion: str | None,
    cycles: list[Cycle],
    now_s: float,
) -> Choice:
    """`champion` is the version holding the alias (None: any version counts)."""
    open_cycle = next((cycle for cycle in cycles if not cycle.finished), None)
    if open_cycle is not None:
        return Choice(action="resume", reason=f"cycle {open_cycle.id} is {open_cycle.stage}", cycle_id=open_cycle.id)
    relevant = [alert for alert in alerts if _answers(alert, spec, model, champion)]
    if not relevant:
        on = f"v{champion}" if champion else model
        return Choice(action="idle", reason=f"no {'/'.join(spec.triggers)} alert is firing on {on}")
    handled = {cycle.id for cycle in cycles}
    fresh = [alert for alert in relevant if cycle_id(_ref(alert, model)) not in handled]
    if not fresh:
        return Choice(action="idle", reason="the firing alert windows already had their retraining")
    alert = min(fresh, key=lambda a: (a.active_at_s, a.name))
    held_s = now_s - alert.active_at_s
    if held_s < spec.hold_s:
        return Choice(action="wait", reason=f"{alert.name} has fired for {held_s:.0f} s of the {spec.hold_s:g} s hold")
    last_start = max((cycle.started_at_s for cycle in cycles), default=None)
    if last_start is not None and now_s - last_start < spec.cooldown_s:
        left = spec.cooldown_s - (now_s - last_start)
        return Choice(action="wait", reason=f"{alert.name} is firing; cooldown holds for {left:.0f} s more")
    ref = _ref(alert, model)
    return Choice(action="submit", reason=f"{alert.name} fired on v{ref.version}", alert=ref, cycle_id=cycle_id(ref))


def cycle_id(alert: AlertRef) -> str:
    """`retrain-<model>-<hash of the alert window>`: the same for the same window, and short enough (47) to name
    a RayJob, whose name KubeRay also gives its cluster and submitter."""
    window = f"{alert.model}|{alert.name}|{alert.version}|{alert.active_at_s:.3f}"
    digest = hashlib.sha256(window.encode()).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9-]+", "-", alert.model.lower())[:26].strip("-") or "model"
    return f"retrain-{slug}-{digest}"


def _answers(alert: FiringAlert, spec: RetrainSpec, model: str, champion: str | None) -> bool:
    if alert.state != "firing" or alert.name not in spec.triggers or alert.labels.get("model") != model:
        return False
    return champion is None or alert.labels.get("version") == champion


def _ref(alert: FiringAlert, model: str) -> AlertRef:
    return AlertRef(
        name=alert.name,
        model=model,
        version=alert.labels.get("version", ""),
        active_at_s=alert.active_at_s,
        value=alert.value,
        labels=alert.labels,
    )
