"""The sweep spec: one YAML file per sweep under `configs/training/`, validated here (unknown keys rejected)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from training.errors import DatasetSourceError, FrameworkNotInstalledError, SpecFileError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

BUNDLED_DATASETS = ("breast_cancer", "digits", "iris", "wine")
# `scheme://` opens a database URL in a --data source; anything else is a file path.
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# user:password@ after the scheme, for URLs SQLAlchemy cannot parse (so cannot mask) either.
_URL_PASSWORD = re.compile(r"(://[^:/@]*):[^@]*@")
Framework = Literal["sklearn", "xgboost", "pytorch"]
Estimator = Literal["random_forest", "logistic_regression", "hist_gradient_boosting", "xgb_classifier", "mlp"]
Metric = Literal["accuracy", "f1_macro", "log_loss", "roc_auc"]
Scalar = bool | int | float | str | None

# Which estimators each framework offers, and the hyper-parameters a spec may set or search for each.
ESTIMATORS: dict[str, tuple[str, ...]] = {
    "sklearn": ("random_forest", "logistic_regression", "hist_gradient_boosting"),
    "xgboost": ("xgb_classifier",),
    "pytorch": ("mlp",),
}
PARAMETERS: dict[str, tuple[str, ...]] = {
    "random_forest": ("n_estimators", "max_depth", "min_samples_split", "min_samples_leaf", "max_features"),
    "logistic_regression": ("C", "max_iter", "tol"),
    "hist_gradient_boosting": ("learning_rate", "max_iter", "max_depth", "max_leaf_nodes", "l2_regularization"),
    "xgb_classifier": (
        "n_estimators",
        "max_depth",
        "learning_rate",
        "subsample",
        "colsample_bytree",
        "min_child_weight",
        "reg_lambda",
        "reg_alpha",
    ),
    "mlp": ("hidden_units", "hidden_layers", "learning_rate", "weight_decay", "epochs", "batch_size", "dropout"),
}
ITERATIVE_FRAMEWORKS = ("xgboost", "pytorch")
# Frameworks whose runtime is an optional extra of rayship (pyproject's [project.optional-dependencies]):
# framework -> (the module it imports, the extra that installs it). scikit-learn and XGBoost are always installed.
OPTIONAL_RUNTIMES: dict[str, tuple[str, str]] = {"pytorch": ("torch", "torch")}
LOWER_IS_BETTER = ("log_loss",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """Pick one of a list of values."""

    type: Literal["choice"] = Field(description="Distribution kind.")
    values: list[Scalar] = Field(min_length=1, description="Candidate values, sampled uniformly.")


class Uniform(_Strict):
    """A float drawn uniformly from [low, high)."""

    type: Literal["uniform"] = Field(description="Distribution kind.")
    low: float = Field(description="Lower bound (inclusive).")
    high: float = Field(description="Upper bound (exclusive); must exceed low.")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self


class LogUniform(Uniform):
    """A float drawn uniformly in log space from [low, high); both bounds positive."""

    type: Literal["loguniform"] = Field(description="Distribution kind.")  # type: ignore[assignment]
    low: float = Field(gt=0, description="Lower bound (inclusive), > 0.")


class RandInt(_Strict):
    """An integer drawn uniformly from [low, high)."""

    type: Literal["randint"] = Field(description="Distribution kind.")
    low: int = Field(description="Lower bound (inclusive).")
    high: int = Field(description="Upper bound (exclusive); must exceed low.")

    @model_validator(mode="after")
    def _ordered(self) -> RandInt:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self


Distribution = Annotated[Choice | Uniform | LogUniform | RandInt, Field(discriminator="type")]


class TableSpec(_Strict):
    """A table (or view) of a SQL database, read whole through SQLAlchemy."""

    # repr=False and the JSON serializer below keep a password in the URL out of logs and `sweep_spec.json`.
    url: str = Field(
        min_length=1,
        repr=False,
        description="SQLAlchemy database URL, e.g. 'sqlite:////abs/data.db' or 'postgresql://user@host/db'; "
        "its password is masked wherever rayship prints or logs it.",
    )
    name: str = Field(min_length=1, description="Table or view to read, in the connection's default schema.")

    @field_validator("url")
    @classmethod
    def _parsable(cls, url: str) -> str:
        if _parse_url(url) is None:
            # Not SQLAlchemy's own message: it may quote the URL, password and all.
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user:password@host:port/database)")
        return url

    @field_serializer("url", when_used="json")
    def _masked_url(self, url: str) -> str:
        return mask_url(url)

    @property
    def masked_url(self) -> str:
        """The URL with its password (if any) replaced by ***."""
        return mask_url(self.url)


class DatasetSpec(_Strict):
    """One of scikit-learn's bundled datasets, a CSV/Parquet file or a SQL table, with a named target column."""

    name: str | None = Field(None, description=f"Bundled dataset: one of {', '.join(BUNDLED_DATASETS)}.")
    path: Path | None = Field(None, description="CSV or Parquet file, relative to the working directory.")
    table: TableSpec | None = Field(None, description="SQL table: a SQLAlchemy URL and a table name.")
    target: str = Field("target", description="Name of the label column (bundled datasets call it 'target').")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        if name is not None and name not in BUNDLED_DATASETS:
            raise ValueError(f"unknown dataset '{name}'; expected one of {', '.join(BUNDLED_DATASETS)}")
        return name

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if sum(source is not None for source in (self.name, self.path, self.table)) != 1:
            raise ValueError(
                "set exactly one of 'name' (a bundled dataset), 'path' (a CSV/Parquet file) or 'table' (a SQL table)"
            )
        if self.path is not None and self.path.suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"path '{self.path}' must end in .csv or .parquet")
        return self

    @property
    def label(self) -> str:
        """How logs and tags name the dataset (never with a database password)."""
        if self.table is not None:
            return f"table {self.table.name} at {self.table.masked_url}"
        return self.name or str(self.path)


class SplitSpec(_Strict):
    """How the data is split: a holdout test set for the final score, a validation set for choosing trials."""

    test_fraction: float = Field(0.25, gt=0, lt=0.9, description="Share of rows held out to score the winner.")
    validation_fraction: float = Field(
        0.25, gt=0, lt=0.9, description="Share of the remaining rows trials are scored on."
    )
    seed: int = Field(0, ge=0, description="Seed of the stratified shuffles, so every trial sees the same split.")


class TrainerSpec(_Strict):
    """The framework and estimator, plus hyper-parameters fixed for every trial."""

    framework: Framework = Field(description="sklearn, xgboost or pytorch.")
    estimator: Estimator = Field(description="Estimator family; must belong to the framework.")
    params: dict[str, Scalar] = Field(default_factory=dict, description="Fixed hyper-parameters of every trial.")
    report_every: int = Field(
        5, ge=1, description="Iterative trainers report (and may be stopped by ASHA) every this many rounds/epochs."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainerSpec:
        if self.estimator not in ESTIMATORS[self.framework]:
            raise ValueError(
                f"estimator '{self.estimator}' is not a {self.framework} estimator; "
                f"expected one of {', '.join(ESTIMATORS[self.framework])}"
            )
        _check_parameters(self.estimator, self.params, "params")
        return self


class SchedulerSpec(_Strict):
    """FIFO runs every trial to the end; ASHA stops weak trials of iterative trainers early."""

    type: Literal["fifo", "asha"] = Field("fifo", description="fifo, or asha for xgboost / pytorch.")
    grace_period: int = Field(2, ge=1, description="ASHA: reports a trial gets before it may be stopped.")
    reduction_factor: float = Field(2.0, gt=1, description="ASHA: keep 1/reduction_factor of trials per rung.")
    max_t: int = Field(
        100, ge=1, description="ASHA: the most reports any trial is allowed; a trial stopped before it stopped early."
    )

    @model_validator(mode="after")
    def _grace_within_budget(self) -> SchedulerSpec:
        # Ray's ASHAScheduler asserts this when the Tuner is built, after the data is loaded: fail at the spec.
        if self.grace_period > self.max_t:
            raise ValueError(f"grace_period ({self.grace_period}) must not exceed max_t ({self.max_t})")
        return self


class GateSpec(_Strict):
    """The validation gate: when enabled a candidate gets the alias only if it beats the champion."""

    enabled: bool = Field(True, description="Apply the gate before setting the alias.")
    margin: float = Field(
        0.0, ge=0, description="How much better than the champion's holdout score the candidate must be."
    )
    min_score: float | None = Field(None, description="Absolute holdout score the candidate must reach, if set.")
    champion_alias: str = Field("champion", description="Alias of the version to compare against.")


class SweepSpec(_Strict):
    """One hyper-parameter sweep: data, trainer, search space, scheduling and what to register."""

    experiment: str = Field(min_length=1, description="MLflow experiment the sweep's runs go to.")
    model_name: str = Field(
        min_length=1, pattern=r"^[^/@\s]+$", description="Registered model the winner becomes a version of."
    )
    dataset: DatasetSpec = Field(description="Where the rows come from.")
    split: SplitSpec = Field(default_factory=SplitSpec, description="Test / validation split.")
    trainer: TrainerSpec = Field(description="Framework, estimator and fixed hyper-parameters.")
    search_space: dict[str, Distribution] = Field(description="Hyper-parameter name -> distribution to sample.")
    num_samples: int = Field(ge=1, le=1000, description="Number of trials.")
    metric: Metric = Field(description="Validation metric trials are ranked by; also the gate's metric.")
    mode: Literal["min", "max"] | None = Field(None, description="Optimisation direction; derived from metric.")
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec, description="Trial scheduler.")
    max_concurrent_trials: int = Field(2, ge=1, le=16, description="Trials running at once.")
    cpus_per_trial: float = Field(0.5, gt=0, le=16, description="Logical CPUs each trial reserves (fractional ok).")
    time_budget_s: float = Field(120.0, gt=0, description="Wall-clock budget of the whole sweep, in seconds.")
    seed: int = Field(0, ge=0, description="Seed of the search (which configurations are sampled).")
    gate: GateSpec = Field(default_factory=GateSpec, description="Validation gate before aliasing.")

    @model_validator(mode="after")
    def _coherent(self) -> SweepSpec:
        _check_parameters(self.trainer.estimator, self.search_space, "search_space")
        if overlap := sorted(set(self.search_space) & set(self.trainer.params)):
            raise ValueError(f"search_space and trainer.params both set {', '.join(overlap)}; keep one")
        if self.scheduler.type == "asha" and self.trainer.framework not in ITERATIVE_FRAMEWORKS:
            raise ValueError(
                f"scheduler 'asha' needs an iterative trainer ({', '.join(ITERATIVE_FRAMEWORKS)}); "
                f"use 'fifo' for {self.trainer.framework}"
            )
        natural = "min" if self.metric in LOWER_IS_BETTER else "max"
        if self.mode is not None and self.mode != natural:
            raise ValueError(f"metric '{self.metric}' is optimised with mode '{natural}', not '{self.mode}'")
        return self

    @property
    def direction(self) -> Literal["min", "max"]:
        """The optimisation direction: `mode` if given, else the metric's natural one."""
        return self.mode or ("min" if self.metric in LOWER_IS_BETTER else "max")


def _check_parameters(estimator: str, names: dict[str, Any], where: str) -> None:
    allowed = PARAMETERS[estimator]
    for name in names:
        if name not in allowed and name not in ("random_state", "seed"):
            raise ValueError(
                f"{where}.{name}: unknown parameter '{name}' for estimator '{estimator}'; "
                f"expected one of {', '.join(allowed)}"
            )


def require_runtime(framework: str) -> None:
    """Raise `FrameworkNotInstalledError` when `framework`'s runtime is an optional extra this environment lacks.

    It only locates the module, never imports it: checking must not cost a process torch's import time and memory
    before that process trains anything (it may train nothing, if the check fails)."""
    if framework not in OPTIONAL_RUNTIMES:
        return
    module, extra = OPTIONAL_RUNTIMES[framework]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refusing the module; a module whose __spec__ is unset
        found = False
    if not found:
        raise FrameworkNotInstalledError(framework, module, extra)


def load_spec(path: Path) -> SweepSpec:
    """Read and validate a spec file; errors name the file and, for invalid fields, the field path.

    It also checks that this environment can train the spec's framework (`require_runtime`): loading the file is
    how every sweep starts, so a PyTorch sweep without torch fails here, before Ray starts a trial. The schema itself
    stays free of it: whether a spec is valid does not depend on the machine that reads it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecFileError(path, "file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise SpecFileError(path, str(exc)) from None
    if not isinstance(raw, dict):
        raise SpecFileError(path, "expected a YAML mapping at the top level")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecFileError(path, _describe(exc)) from None
    require_runtime(spec.trainer.framework)
    return spec


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "spec"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def mask_url(url: str) -> str:
    """`url` with its password replaced by ***, as SQLAlchemy renders it (or by pattern, if it cannot parse it)."""
    parsed = _parse_url(url)
    if parsed is None:
        return _URL_PASSWORD.sub(r"\1:***@", url)
    return parsed.render_as_string(hide_password=True)


def _parse_url(url: str) -> URL | None:
    """SQLAlchemy's `URL` of `url`, or None when it is not one."""
    # Imported here, not at the top: trial actors import this module and never parse URLs (SQLAlchemy costs 0.3 s).
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None


def dataset_source(source: str, target: str) -> dict[str, Any]:
    """The `dataset:` mapping of a source given on the command line: `URL#TABLE`, else a CSV/Parquet path."""
    if not _URL_SCHEME.match(source):
        return {"path": source, "target": target}
    url, hash_sign, name = source.rpartition("#")  # the last '#': a password may hold one, a table name should not
    if not hash_sign:
        raise DatasetSourceError(
            _shown(source), "a database URL needs '#TABLE' after it, e.g. sqlite:////abs/data.db#rows"
        )
    return {"table": {"url": url, "name": name}, "target": target}


def with_dataset(spec: SweepSpec, source: str, target: str | None = None) -> SweepSpec:
    """`spec` training on `source` (see `dataset_source`) instead; the label column defaults to the spec's."""
    raw = dataset_source(source, spec.dataset.target if target is None else target)
    try:
        # The whole spec again, not just the dataset: any rule spanning fields sees the new dataset too.
        return SweepSpec.model_validate({**spec.model_dump(), "dataset": raw})
    except ValidationError as exc:
        raise DatasetSourceError(_shown(source), _describe(exc)) from None


def _shown(source: str) -> str:
    """`source` as errors print it: a path as given, a URL#TABLE without the password."""
    if not _URL_SCHEME.match(source):
        return source
    url, hash_sign, name = source.rpartition("#")
    return f"{mask_url(url)}#{name}" if hash_sign else mask_url(source)
