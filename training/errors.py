"""Errors raised by training; all subclass rayship's one root in `rayship.errors`."""

from __future__ import annotations

from pathlib import Path

from rayship.errors import InvalidInputError, NotFoundError, RayshipError, UnavailableError


class SpecFileError(InvalidInputError):
    """A sweep spec file that cannot be read or is not valid YAML / not a valid spec."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"Invalid sweep spec {path}: {reason}")
        self.path = path


class DatasetNotFoundError(NotFoundError):
    """A dataset file that does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"Dataset file {path} does not exist")
        self.path = path


class DatasetTableNotFoundError(NotFoundError):
    """A SQL dataset whose database has no such table or view."""

    def __init__(self, table: str, masked_url: str) -> None:
        super().__init__(f"Dataset table '{table}' does not exist at {masked_url}")
        self.table = table
        self.url = masked_url


class DatasetUnavailableError(UnavailableError):
    """A SQL dataset whose database could not be connected to (down, unreachable, refused the credentials)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"Dataset {source} is unavailable: {reason}")
        self.source = source


class DatasetSourceError(InvalidInputError):
    """A dataset source given on the command line (`--data`) that is no valid dataset."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"Invalid dataset source {source}: {reason}")
        self.source = source


class MissingTargetColumnError(InvalidInputError):
    """A tabular dataset without the target column the spec names."""

    def __init__(self, source: str, target: str, columns: list[str]) -> None:
        super().__init__(f"Dataset {source} has no target column '{target}' (columns: {', '.join(columns)})")
        self.source = source
        self.target = target


class DatasetFormatError(InvalidInputError):
    """A dataset file or SQL table rayship cannot read as a table of numeric features."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"Dataset {source} cannot be used: {reason}")
        self.source = source


class FrameworkNotInstalledError(RayshipError):
    """A framework whose runtime is an optional extra of rayship (`rayship[torch]`) that this environment lacks.

    The root's 500, no family: the spec is valid (not a 400) and nothing is down or starting (not a 503, which
    invites a retry); the environment that would train is missing a package, and only installing the extra fixes it.
    """

    def __init__(self, framework: str, module: str, extra: str) -> None:
        super().__init__(
            f"Cannot train a {framework} model: this environment has no {module}; pip install 'rayship[{extra}]'"
        )
        self.framework = framework
        self.extra = extra


class SweepFailedError(RayshipError):
    """Every trial of a sweep failed, so there is no winner to log or register."""

    def __init__(self, experiment: str, failed: int, first_error: str) -> None:
        super().__init__(
            f"Sweep '{experiment}' produced no result: {failed} trial(s) failed; first error: {first_error}"
        )
        self.experiment = experiment


class SweepInterruptedError(RayshipError):
    """The sweep was interrupted (Ctrl+C / SIGTERM): its runs are marked KILLED and nothing is registered."""

    status_code = 499

    def __init__(self, experiment: str, sweep_run_id: str) -> None:
        super().__init__(
            f"Sweep '{experiment}' was interrupted; run {sweep_run_id} and its unfinished trials are marked "
            "KILLED and nothing was registered"
        )
        self.sweep_run_id = sweep_run_id


class RayUnavailableError(UnavailableError):
    """The Ray cluster named by RAY_ADDRESS could not be joined (or a local one could not start)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"Ray at {address} is unavailable: {reason}")
        self.address = address
