"""Errors the rollout package raises on purpose; subclasses of rayship's one root (`rayship.errors`).

Each builds its message from domain arguments so tests and CLIs can rely on the exact public text.
"""

from __future__ import annotations

from pathlib import Path

from rayship.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError


class SpecError(InvalidInputError):
    """A rollout spec file is missing, unreadable or invalid."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Rollout spec {path}: {problem}")
        self.path = path
        self.problem = problem


class GatewayNotFoundError(NotFoundError):
    """The Serve config has no gateway application (or it lacks the Gateway deployment)."""

    def __init__(self, app_name: str, deployment_name: str) -> None:
        super().__init__(f"Serve config has no application '{app_name}' with a deployment '{deployment_name}'")


class ModelPolicyNotFoundError(NotFoundError):
    """The gateway's user_config has no traffic policy for a model."""

    def __init__(self, model: str) -> None:
        super().__init__(f"Gateway has no traffic policy for model '{model}'")
        self.model = model


class VersionNotInPolicyError(NotFoundError):
    """A model's gateway policy does not list a version."""

    def __init__(self, model: str, version: str) -> None:
        super().__init__(f"Model '{model}' has no version '{version}' in the gateway policy")
        self.model = model
        self.version = version


class AppNotFoundError(NotFoundError):
    """The Serve config has no application with this name."""

    def __init__(self, app_name: str) -> None:
        super().__init__(f"Serve config has no application '{app_name}'")
        self.app_name = app_name


class ProtectedAppError(InvalidInputError):
    """Rollouts never remove the gateway application."""

    def __init__(self, app_name: str) -> None:
        super().__init__(f"Application '{app_name}' is the gateway; rollouts never remove it")
        self.app_name = app_name


class InvalidWeightsError(InvalidInputError):
    """A traffic split that the gateway cannot apply."""

    def __init__(self, model: str, problem: str) -> None:
        super().__init__(f"Invalid weights for model '{model}': {problem}")
        self.model = model


class InvalidServeConfigError(InvalidInputError):
    """A Serve config that Ray's own `ServeDeploySchema` rejects."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"Serve config is invalid: {problem}")


class InvalidGatewayPolicyError(InvalidInputError):
    """The gateway's own schema (deployments.traffic_policy.GatewayConfig) rejected the resulting user_config."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"Gateway user_config is invalid: {problem}")


class StoreConflictError(ConflictError):
    """The durable rollout store is not in the state an operation expects (e.g. two pending intents)."""

    def __init__(self, model: str, problem: str) -> None:
        super().__init__(f"Rollout store of model '{model}': {problem}")
        self.model = model


class CorruptStoreError(ConflictError):
    """A rollout state file or event log cannot be parsed."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Rollout store file {path} is unreadable: {problem}")
        self.path = path


class MetricsUnavailableError(UnavailableError):
    """The per-version counters of a model cannot be read."""

    def __init__(self, model: str, source: str, problem: str) -> None:
        super().__init__(f"Stats of model '{model}' unavailable from {source}: {problem}")
        self.model = model


class AppStartError(ConflictError):
    """A Serve application failed to deploy or did not become RUNNING in time."""

    def __init__(self, app_name: str, status: str, detail: str) -> None:
        super().__init__(f"Application '{app_name}' did not start: {status}" + (f" ({detail})" if detail else ""))
        self.app_name = app_name
        self.status = status


class RouterUnavailableError(UnavailableError):
    """The router cannot reach the cluster (dashboard down, auth refused, timeout)."""

    def __init__(self, target: str, problem: str) -> None:
        super().__init__(f"Cannot reach {target}: {problem}")
        self.target = target


class ImperativeAppError(ConflictError):
    """An app deployed from Python (`serve.run`) has no config the REST API could write back."""

    def __init__(self, app_name: str) -> None:
        super().__init__(
            f"Application '{app_name}' was deployed with serve.run, not from a config file; "
            "the Serve REST router cannot manage a cluster that runs it"
        )
        self.app_name = app_name


class ServeConfigRejectedError(InvalidInputError):
    """Ray Serve refused a config (HTTP 4xx from `PUT /api/serve/applications/`)."""

    def __init__(self, target: str, status_code: int, detail: str) -> None:
        super().__init__(f"{target} rejected the Serve config (HTTP {status_code}): {detail}")
        self.target = target


class CandidateModelMismatchError(InvalidInputError):
    def __init__(self, candidate: str, candidate_model: str, model: str) -> None:
        super().__init__(f"Candidate {candidate} is a version of model '{candidate_model}', not of '{model}'")


class StrategyMismatchError(SpecError):
    def __init__(self, path: str, strategy: str, command: str) -> None:
        super().__init__(path, f"strategy is '{strategy}' but the command is '{command}'")


class NoRolloutError(NotFoundError):
    def __init__(self, model: str, state_dir: Path) -> None:
        super().__init__(f"Model '{model}' has no rollout in {state_dir}")


class NotAChangeError(InvalidInputError):
    def __init__(self, model: str, version: str) -> None:
        super().__init__(f"Version '{version}' already is the champion of model '{model}'")


class RayServiceNotFoundError(NotFoundError):
    """The RayService the router was pointed at does not exist."""

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(f"RayService '{name}' not found in namespace '{namespace}'")
        self.name = name
        self.namespace = namespace


class InvalidServeConfigV2Error(InvalidInputError):
    """A Serve config that cannot be, or was not, stored as a RayService's `serveConfigV2`."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"serveConfigV2 of {where}: {problem}")


class MissingSettingError(InvalidInputError):
    """A variable the rollout CLI reads its addresses from is unset."""

    def __init__(self, variable: str) -> None:
        super().__init__(f'{variable} is not set; run: eval "$(python -m cluster env)"')
        self.variable = variable


class MissingOptionError(InvalidInputError):
    """A command-line option that another option needs was not given."""

    def __init__(self, option: str, needed_by: str) -> None:
        super().__init__(f"{needed_by} needs {option}")
        self.option = option


class InvalidScaleError(InvalidInputError):
    """A replica count or autoscaling bound that makes no sense (negative, min above max, above the cap)."""

    def __init__(self, model: str, version: str, problem: str) -> None:
        super().__init__(f"Cannot scale version '{version}' of model '{model}': {problem}")
        self.model = model
        self.version = version


class ScaleRefusedError(ConflictError):
    """A sizing that would break the gateway policy (a routed, failover or shadow target at zero replicas)."""

    def __init__(self, model: str, version: str, problem: str) -> None:
        super().__init__(f"Refusing to scale version '{version}' of model '{model}': {problem}")
        self.model = model
        self.version = version


class ScaleDuringRolloutError(ConflictError):
    """A rollout driver holds the model's lease: its candidate was started sized like the champion."""

    def __init__(self, model: str, holder: str, expires_in_s: float) -> None:
        super().__init__(
            f"Model '{model}' is in a rollout driven by '{holder}' (lease expires in {expires_in_s:.0f} s); its "
            "candidate was started sized like the champion, and scaling either now changes what the rollout "
            f"compares. Wait for it to finish, abort it (python -m rollout abort --model {model}), or pass --force"
        )
        self.model = model
        self.holder = holder


class ReplicasNotReadyError(ConflictError):
    """A deployment did not reach the replica count its new sizing asks for in time."""

    def __init__(self, app_name: str, deployment: str, target: str, timeout_s: float, now: str) -> None:
        super().__init__(
            f"Deployment '{deployment}' of application '{app_name}' did not reach {target} in {timeout_s:.0f} s "
            f"(now {now})"
        )
        self.app_name = app_name


class ScaleOverwrittenError(ConflictError):
    """Another writer replaced the Serve config while a scale waited for its replicas."""

    def __init__(self, app_name: str, now: str) -> None:
        super().__init__(
            f"The replica settings of application '{app_name}' changed while scaling (now {now}); another writer "
            "replaced the Serve config, run the command again"
        )
        self.app_name = app_name


class ServeFileError(InvalidInputError):
    """The Serve config file a rollout keeps in step with the live config cannot be read or understood."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"Serve config file {path}: {problem}")
        self.path = path
        self.problem = problem


class GatewayNotReadyError(UnavailableError):
    """The gateway did not say a deployed model is ready in time."""

    def __init__(self, model: str, timeout_s: float) -> None:
        super().__init__(f"The gateway did not answer ready for model '{model}' within {timeout_s:.0f} s")
        self.model = model
