"""Admitting a rollout's candidate before the driver starts: the registry's one rule,
`registry.stages.admit_for_rollout`, over the candidate version's tags.

An archived candidate is refused, always; one the champion gate did not pass is refused unless the operator gives
`--force --reason TEXT`, and a forced admission is recorded on the version (`rayship.forced_by`, `forced_for`,
`forced_at`, `force_reason`) before anything is deployed. Refusals are `ConflictError`s, which the CLI reports as
refused (exit 3); `--force` without a reason is bad input (exit 2), reported before the registry is asked anything.

`read_facts` and `record` are the two registry calls (MLflow is imported only when they run); unit tests replace them.
"""

from __future__ import annotations

from registry.stages import Admission, VersionFacts, admit_for_rollout, check_force

__all__ = ["admit_candidate", "check_force", "read_facts", "record"]


def read_facts(model: str, version: str) -> VersionFacts:
    """The candidate's aliases, archived tag and gate result, from the registry."""
    from registry.api import PinnedVersion
    from registry.catalog import version_facts

    return version_facts(PinnedVersion(name=model, version=version))


def record(model: str, version: str, admission: Admission, action: str) -> None:
    """Tag the candidate with who forced it past the gate, for what, when and why."""
    from registry.api import PinnedVersion
    from registry.promotion import record_force

    record_force(PinnedVersion(name=model, version=version), admission, action=action)


def admit_candidate(
    model: str, version: str, *, strategy: str, candidate: str, force: bool, reason: str | None
) -> Admission:
    """Admit `model`/`version` (given on the command line as `candidate`) to a `strategy` rollout, or raise the
    refusal; a forced admission is recorded on the version first."""
    check_force(force, reason)
    admission = admit_for_rollout(read_facts(model, version), force=force, reason=reason)
    if admission.forced:
        record(model, version, admission, f"{strategy} rollout of {candidate}")
    return admission
