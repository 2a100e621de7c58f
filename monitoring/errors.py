"""Errors of model monitoring: subclasses of the one root in `rayship.errors`."""

from __future__ import annotations

from rayship.errors import InvalidInputError, NotFoundError, UnavailableError


class ProfileInvalidError(InvalidInputError):
    """Reference data or a stored profile that cannot make (or be) a profile."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"Reference profile of {where} is invalid: {reason}")
        self.where = where
        self.reason = reason


class ProfileDataError(InvalidInputError):
    """A backfill data file that does not fit the version's inputs."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Reference data '{path}' cannot profile this version: {reason}")
        self.path = path
        self.reason = reason


class MonitorSpecError(InvalidInputError):
    """A monitoring spec file that cannot be read or fails validation."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Monitoring spec '{path}' is invalid: {reason}")
        self.path = path
        self.reason = reason


class MonitorNotRunningError(UnavailableError):
    """A gateway built without a monitor to ask (a benchmark's bare app)."""

    def __init__(self) -> None:
        super().__init__("Model monitoring is not available on this gateway")


class MonitorUnreachableError(UnavailableError):
    """The gateway's monitoring or policy route could not be read."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Cannot read {url}: {reason}")
        self.url = url
        self.reason = reason


class FeedbackInvalidError(InvalidInputError):
    """A feedback body (`POST /v2/models/{model}/feedback`) that cannot be read as labels."""

    def __init__(self, model: str, reason: str, item: int | None = None) -> None:
        # The reason reads on from its subject: "is not valid JSON", "'label' is missing".
        where = "The feedback body" if item is None else f"Feedback item {item}:"
        super().__init__(f"{where} {reason}")
        self.model = model
        self.reason = reason
        self.item = item


class RetrainJobNotFoundError(NotFoundError):
    """A retraining job id the job runner does not know."""

    def __init__(self, submission_id: str, where: str) -> None:
        super().__init__(f"Retraining job '{submission_id}' is not known to {where}")
        self.submission_id = submission_id
        self.where = where


class JobRunnerUnavailableError(UnavailableError):
    """The Ray Jobs API or the Kubernetes API could not be reached or refused the call."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"Cannot reach {where}: {reason}")
        self.where = where
        self.reason = reason


class RetrainTemplateError(InvalidInputError):
    """A RayJob template file (the KubeRay runner's) that cannot be read or is no RayJob."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"RayJob template '{path}' is invalid: {reason}")
        self.path = path
        self.reason = reason


class RetrainJobInvalidError(InvalidInputError):
    """A retraining job the runner would start only to see it rejected (a submission id KubeRay refuses)."""

    def __init__(self, submission_id: str, where: str, reason: str) -> None:
        super().__init__(f"Retraining job '{submission_id}' cannot run on {where}: {reason}")
        self.submission_id = submission_id
        self.where = where
        self.reason = reason


class PrometheusUnreachableError(UnavailableError):
    """Prometheus' alerts API could not be read."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Cannot read alerts from Prometheus at {url}: {reason}")
        self.url = url
        self.reason = reason
