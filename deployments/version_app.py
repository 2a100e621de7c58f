"""One Serve application per model version: `build_app({"model_uri": "models:/iris/3", ...})`.

At start a replica resolves the pinned version through `registry`, refuses it if it is archived (the deploy fails
with `VersionArchivedError`, naming how to unarchive it), downloads it, verifies every artifact's sha256
against the digests recorded at registration (`registry.download_verified`; a tampered artifact raises
`DigestMismatchError`, so that deploy fails and other versions keep serving), and loads the fastest predictor
for its flavour. The app has no HTTP route: the gateway calls `predict_many(batch)` and `metadata()` through
handles.

A gateway's batch is predicted in model calls of at most `max_batch_size` requests, set by the deployment's
`user_config` and changed without a restart. Replicas, autoscaling and `num_cpus` come from the Serve config.

Monitoring (docs/monitoring.md): when the version has a reference profile, every predicted row is binned into it
after its model call and the replica pushes its cumulative counts to the cluster's monitor every
`monitor_push_interval_s` (`monitoring.reporter`); `monitoring: false` in the args turns it off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve import Application

from deployments.app_config import VERSION_DEPLOYMENT
from deployments.errors import ModelLoadError
from deployments.model_schema import InputSchema, conform, input_specs, schema_from_signature
from deployments.output_split import split_outputs
from deployments.predictors import Predictor, load_predictor
from deployments.types import Features, ModelMetadata, Prediction, TensorSpec, VersionError
from monitoring.profile import PROFILE_FILE, ReferenceProfile, parse_profile
from monitoring.reporter import PUSH_INTERVAL_S, SketchReporter
from monitoring.sketch import Sketch
from rayship.errors import RayshipError

logger = logging.getLogger("ray.serve")

PINNED_URI_PATTERN = r"^models:/[A-Za-z0-9][A-Za-z0-9_.-]*/[0-9]+$"
DEFAULT_MAX_BATCH_SIZE = 32  # until the deployment's user_config says otherwise


class BatchSettings(BaseModel):
    """The version deployment's `user_config`: how a gateway's batch is cut into model calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(
        DEFAULT_MAX_BATCH_SIZE, ge=1, le=1024, description="Most requests combined into one model call."
    )


class VersionAppArgs(BaseModel):
    """The `args` of a version application in `configs/serve.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_uri: str = Field(
        pattern=PINNED_URI_PATTERN,
        description="Pinned registry URI 'models:/<name>/<N>'; aliases are resolved by the deployer, never here.",
    )
    download_dir: str | None = Field(
        None, description="Where replicas put the verified model; unset means a fresh temporary directory."
    )
    monitoring: bool = Field(
        True,
        description="Bin every predicted row into the version's reference profile and push the counts to the "
        "monitor (a version without a profile serves as before).",
    )
    monitor_push_interval_s: float = Field(
        PUSH_INTERVAL_S, gt=0, le=60, description="How often each replica pushes its counts to the monitor."
    )


class LoadedModel:
    """A verified, loaded version: its predictor, input schema and metadata."""

    def __init__(self, name: str, version: str, model_dir: Path) -> None:
        from mlflow.models import Model

        mlmodel = Model.load(str(model_dir))
        self.name, self.version = name, version
        self.predictor: Predictor = load_predictor(model_dir, mlmodel.flavors, model_uri=f"models:/{name}/{version}")
        inputs = mlmodel.signature.inputs.to_dict() if mlmodel.signature and mlmodel.signature.inputs else None
        self.schema: InputSchema = schema_from_signature(inputs)
        self.profile = self._profile(model_dir)
        self.metadata = ModelMetadata(
            name=name,
            version=version,
            platform=self.predictor.flavor,
            inputs=input_specs(self.schema),
            outputs=self._outputs(),
            columns=list(self.schema.columns) if self.schema.columns else None,
        )

    def _profile(self, model_dir: Path) -> ReferenceProfile | None:
        """The verified reference profile, if the version has one that fits its inputs."""
        path = model_dir / PROFILE_FILE
        if not path.is_file():
            return None
        profile = parse_profile(path.read_text(), f"{self.name}/{self.version}")
        width = self.schema.num_features
        if width is not None and len(profile.features) != width:
            logger.warning(
                "%s/%s: the reference profile has %d features, the model %d: not monitored",
                self.name,
                self.version,
                len(profile.features),
                width,
            )
            return None
        return profile

    def _outputs(self) -> list[TensorSpec]:
        outputs = [TensorSpec("predict", "FP64" if self.predictor.classes is None else "INT64", [-1])]
        if self.predictor.classes is not None:
            outputs[0] = TensorSpec("predict", _label_datatype(self.predictor.classes), [-1])
            outputs.append(TensorSpec("predict_proba", "FP64", [-1, len(self.predictor.classes)]))
        return outputs

    def probe_row(self) -> np.ndarray | None:
        """One all-zero row for the health check, when the schema is numeric and its width known."""
        if self.schema.num_features is None or not self.schema.numeric:
            return None
        return np.zeros((1, self.schema.num_features))


def _label_datatype(classes: list) -> str:
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) for c in classes):
        return "INT64"
    return "FP64" if all(isinstance(c, float) for c in classes) else "BYTES"


def load_version(args: VersionAppArgs, target: Path) -> LoadedModel:
    """Resolve, refuse an archived version (`registry.stages.admit_for_serving`), download under `target`, verify
    and load; any failure names the URI and the reason."""
    from registry.api import download_verified, resolve
    from registry.catalog import version_facts
    from registry.connection import connect
    from registry.stages import admit_for_serving

    try:
        client = connect()
        pinned = resolve(args.model_uri, client=client)
        admit_for_serving(version_facts(pinned, client))  # VersionArchivedError names the version and the way back
        model_dir = download_verified(pinned, target, client=client)
        return LoadedModel(pinned.name, pinned.version, model_dir)
    except RayshipError:
        raise  # DigestMismatchError and friends already name the version and the problem
    except Exception as exc:
        raise ModelLoadError(args.model_uri, f"{type(exc).__name__}: {exc}") from exc


class SizeObserver(Protocol):
    def observe(self, value: float) -> None:
        """Record one model call's batch size."""


class VersionPredictor:
    """The predicting parts of a version replica, without Serve: each request conformed to the model's schema,
    requests predicted together in vectorised calls of at most `max_batch_size`, and a request whose values break
    the vectorised call answered on its own (so one bad request fails only itself)."""

    def __init__(
        self,
        model: LoadedModel,
        batch_sizes: SizeObserver,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        sketch: Sketch | None = None,
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self._batch_sizes = batch_sizes
        self._sketch = sketch

    def predict_many(self, batch: list[Features]) -> list[Prediction | VersionError]:
        conformed = [self.conform(features) for features in batch]
        valid = [index for index, item in enumerate(conformed) if isinstance(item, Features)]
        predicted: dict[int, Prediction | VersionError] = {}
        for start in range(0, len(valid), self.max_batch_size):
            chunk = valid[start : start + self.max_batch_size]
            predicted.update(zip(chunk, self.predict_chunk([conformed[i] for i in chunk]), strict=True))
        return [predicted.get(index, item) for index, item in enumerate(conformed)]

    def conform(self, features: Features) -> Features | VersionError:
        try:
            return conform(self.model.schema, features, self.model.name, self.model.version)
        except RayshipError as exc:
            return VersionError(exc.status_code, exc.message)

    def predict_chunk(self, batch: list[Features]) -> list[Prediction | VersionError]:
        """One vectorised model call for the batch's requests (each answered alone if the call fails)."""
        self._batch_sizes.observe(len(batch))
        try:
            return self._predict_together(batch)
        except Exception:  # one request's values broke the vectorised call: answer each on its own
            return [self._predict_alone(features) for features in batch]

    def _predict_together(self, batch: list[Features]) -> list[Prediction | VersionError]:
        values = batch[0].values if len(batch) == 1 else np.concatenate([f.values for f in batch])
        predictions, probabilities = self.model.predictor.run(values, batch[0].columns)
        sizes = [features.num_rows for features in batch]
        answers = split_outputs(predictions, probabilities, sizes, self.model.version, self.model.predictor.classes)
        if self._sketch is not None:
            self._observe(values, predictions, probabilities)
        return answers

    def _observe(self, values: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray | None) -> None:
        try:
            self._sketch.observe(values, predictions, probabilities)
        except Exception:  # monitoring must never fail a prediction
            logger.exception("could not bin a batch into the reference profile; monitoring stops for this replica")
            self._sketch = None

    def _predict_alone(self, features: Features) -> Prediction | VersionError:
        try:
            return self._predict_together([features])[0]
        except (ValueError, TypeError) as exc:  # the model refused these values (NaN, wrong type): the caller's fault
            return VersionError(400, self._refusal(exc))
        except Exception as exc:
            logger.exception("prediction failed")
            return VersionError(500, str(exc))  # the data plane names the model and version of a 5xx

    def _refusal(self, exc: Exception) -> str:
        return f"Model '{self.model.name}' version '{self.model.version}' cannot predict this input: {exc}"


@serve.deployment(
    name=VERSION_DEPLOYMENT,
    ray_actor_options={"num_cpus": 0.25},
    logging_config={"enable_access_log": False},  # its requests are the gateway's batched calls
    # The gateway keeps one batched call in flight per replica: ongoing requests measure how busy a replica is.
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 0.7},
    max_ongoing_requests=64,
    health_check_period_s=2,  # a killed replica is noticed (and replaced) within this
)
class ModelVersion:
    def __init__(self, args: dict) -> None:
        self._args = VersionAppArgs.model_validate(args)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
        # A replica-private scratch directory unless one is configured; removed when the replica stops.
        self._scratch = None if self._args.download_dir else tempfile.mkdtemp(prefix="rayship-model-")
        self._model = load_version(self._args, Path(self._args.download_dir or self._scratch))
        self._reporter = self._make_reporter() if self._args.monitoring else None
        self._predictor = VersionPredictor(
            self._model,
            _batch_size_histogram(self._model.name, self._model.version),
            sketch=self._reporter.sketch if self._reporter else None,
        )
        self._report_task: asyncio.Task | None = None
        logger.info("serving %s/%s (%s)", self._model.name, self._model.version, self._model.predictor.flavor)

    def _make_reporter(self) -> SketchReporter:
        replica = serve.get_replica_context().replica_id.unique_id
        return SketchReporter(
            self._model.name, self._model.version, replica, self._model.profile, self._args.monitor_push_interval_s
        )

    def _start_reporting(self) -> None:
        # From the first health check or call: __init__ runs outside the replica's event loop.
        if self._reporter is not None and self._report_task is None:
            self._report_task = asyncio.get_running_loop().create_task(self._reporter.run_forever())

    def __del__(self) -> None:
        if getattr(self, "_scratch", None):
            shutil.rmtree(self._scratch, ignore_errors=True)

    def reconfigure(self, user_config: dict) -> None:
        """New batch settings take effect for the next batch; an invalid config is logged, never raised."""
        try:
            settings = BatchSettings.model_validate(user_config or {})
        except ValueError as exc:
            logger.error("ignoring invalid batching user_config %s: %s", user_config, exc)
            return
        self._predictor.max_batch_size = settings.max_batch_size

    async def predict_many(self, batch: list[Features]) -> list[Prediction | VersionError]:
        """A gateway's batch, already formed: predicted in model calls of at most `max_batch_size` requests.

        No `@serve.batch` here: the gateway keeps one call in flight per replica, so waiting for other callers
        would only add latency, and queueing each request again costs CPU the gateway already spent."""
        self._start_reporting()
        return self._predictor.predict_many(batch)

    def metadata(self) -> ModelMetadata:
        return self._model.metadata

    async def check_health(self) -> None:
        """Unhealthy when the model can no longer predict one probe row."""
        self._start_reporting()
        row = self._model.probe_row()
        if row is not None:
            self._model.predictor.run(row, self._model.schema.columns)


def _batch_size_histogram(model: str, version: str):
    from ray.serve.metrics import Histogram

    histogram = Histogram(
        "rayship_model_batch_size",
        description="Requests per model call in a version replica.",
        boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256],
        tag_keys=("model", "version"),
    )
    histogram.set_default_tags({"model": model, "version": version})
    return histogram


def build_app(args: dict) -> Application:
    """`import_path: deployments.version_app:build_app` with `args: {model_uri: models:/iris/3, ...}`."""
    validated = VersionAppArgs.model_validate(args)
    return ModelVersion.bind(validated.model_dump())
