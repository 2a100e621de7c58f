"""Errors raised where MLflow meets rayship (`registry/api.py` is that one boundary); subclasses of the one root in
`rayship.errors`, where the not-found family of models and versions lives too."""

from __future__ import annotations

from pathlib import Path

from rayship.errors import ConflictError, InvalidInputError, NotFoundError, RayshipError, UnavailableError


class InvalidModelUriError(InvalidInputError):
    """A model URI that names neither a version nor an alias of a registered model."""

    def __init__(self, model_uri: str) -> None:
        super().__init__(
            f"Invalid model URI '{model_uri}': expected models:/<name>/<version>, models:/<name>@<alias>, "
            "<name>/<version> or <name>@<alias>"
        )
        self.model_uri = model_uri


class InvalidAliasError(InvalidInputError):
    """An alias MLflow would reject, or one that looks like a version."""

    def __init__(self, alias: str) -> None:
        super().__init__(
            f"Invalid alias '{alias}': use letters, digits, '_' or '-', not starting with a digit "
            "and not 'latest' or 'v<digits>'"
        )
        self.alias = alias


class AliasNotFoundError(NotFoundError):
    """The registered model exists but no version carries this alias."""

    def __init__(self, name: str, alias: str) -> None:
        super().__init__(f"Model '{name}' has no alias '{alias}'")
        self.name = name
        self.alias = alias


class LoggedModelNotFoundError(NotFoundError):
    """No logged model (MLflow 3 `m-...` id) has this id."""

    def __init__(self, model_id: str) -> None:
        super().__init__(f"Logged model '{model_id}' not found")
        self.model_id = model_id


class DigestMismatchError(ConflictError):
    """A downloaded model version differs from the sha256 manifest recorded when it was registered."""

    def __init__(self, name: str, version: str, problems: list[str]) -> None:
        super().__init__(f"Model {name}/{version} failed digest verification: {'; '.join(problems)}")
        self.name = name
        self.version = version
        self.problems = problems


class VersionFileExistsError(ConflictError):
    """A file added to a version that already has one of that name (its digest is already recorded)."""

    def __init__(self, name: str, version: str, file_name: str) -> None:
        super().__init__(f"Model {name}/{version} already has {file_name}")
        self.name = name
        self.version = version
        self.file_name = file_name


class ManifestMissingError(ConflictError):
    """A model version without a digest manifest: nothing to verify it against, so it is never loaded."""

    def __init__(self, name: str, version: str, tag: str) -> None:
        super().__init__(
            f"Model {name}/{version} has no digest manifest (tag '{tag}'); "
            "register it with rayship before verifying or loading it"
        )
        self.name = name
        self.version = version


class AliasHeldError(ConflictError):
    """An operation that would leave an alias pointing at a version that should no longer be used."""

    def __init__(self, name: str, version: str, alias: str) -> None:
        super().__init__(f"Model {name}/{version} holds alias '{alias}'; move or delete the alias before archiving it")
        self.name = name
        self.version = version
        self.alias = alias


class RegistryUnavailableError(UnavailableError):
    """The MLflow tracking server did not answer within the bounded retry."""

    def __init__(self, tracking_uri: str, attempts: int, reason: str) -> None:
        super().__init__(f"MLflow at {tracking_uri} is unreachable after {attempts} attempts: {reason}")
        self.tracking_uri = tracking_uri
        self.attempts = attempts


class RegistryBackendError(RayshipError):
    """MLflow answered with an error rayship has no more specific meaning for."""

    status_code = 502

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"MLflow failed to {action}: {reason}")
        self.action = action


class UnsupportedModelError(InvalidInputError):
    """A model directory rayship cannot serve: no MLmodel, or none of the supported native flavours."""

    def __init__(self, model_dir: Path, reason: str) -> None:
        super().__init__(f"Cannot serve the model in {model_dir}: {reason}")


class UnknownStageError(InvalidInputError):
    """A stage name that is neither a stage nor the alias of one."""

    def __init__(self, stage: str, known: dict[str, str]) -> None:
        choices = " or ".join(f"{name} (alias {alias})" for name, alias in known.items())
        super().__init__(f"Unknown stage '{stage}': use {choices}")
        self.stage = stage


class VersionArchivedError(ConflictError):
    """An archived version asked to be served, rolled out or given a stage; no --force overrides this."""

    def __init__(self, name: str, version: str, purpose: str) -> None:
        super().__init__(
            f"Model {name}/{version} is archived, so it cannot {purpose}; "
            f"unarchive it first: python -m registry unarchive {name}/{version}"
        )
        self.name = name
        self.version = version


class GateNotPassedError(ConflictError):
    """A version the champion gate did not pass, asked to be rolled out or given a stage without --force."""

    def __init__(
        self, name: str, version: str, stage: str | None, gate: str, reasons: str | None, purpose: str
    ) -> None:
        where = f"stage {stage}" if stage else "no stage"
        super().__init__(
            f"Model {name}/{version} ({where}) did not pass the champion gate "
            f"(rayship.gate={gate}: {reasons or 'no reasons recorded'}); "
            f"it cannot {purpose} unless forced with --force --reason TEXT"
        )
        self.name = name
        self.version = version
        self.gate = gate


class ForceReasonMissingError(InvalidInputError):
    """`--force` without a reason: every override of the gate is recorded on the version with its reason."""

    def __init__(self) -> None:
        super().__init__("--force needs --reason TEXT: the reason is recorded on the version")
