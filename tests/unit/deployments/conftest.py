"""Fixtures for the serving unit tests: a fake version caller standing in for Serve handles."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.types import Features, ModelMetadata, Prediction, TensorSpec, VersionError


class FakeCaller:
    """Answers like a version app: predicts the row sums, or fails as told."""

    def __init__(self) -> None:
        self.ready: set[str] = set()
        self.failing: dict[str, Exception] = {}
        self.expected_features: dict[str, int] = {}
        self.calls: list[str] = []

    def is_ready(self, app: str) -> bool:
        return app in self.ready

    async def predict(self, app: str, features: Features) -> Prediction | VersionError:
        self.calls.append(app)
        if app in self.failing:
            raise self.failing[app]
        expected = self.expected_features.get(app)
        if expected is not None and features.values.shape[1] != expected:
            return VersionError(400, f"expects {expected} features, got {features.values.shape[1]}")
        version = app.rsplit("-v", 1)[1]
        sums = np.asarray(features.values, dtype=float).sum(axis=1)
        probabilities = [[0.25, 0.75] for _ in range(features.num_rows)]
        return Prediction(version, sums.tolist(), probabilities, [0, 1], batch_size=2)

    async def metadata(self, app: str) -> ModelMetadata:
        version = app.rsplit("-v", 1)[1]
        return ModelMetadata(
            name=app.rsplit("-v", 1)[0],
            version=version,
            platform="sklearn",
            inputs=[TensorSpec("input-0", "FP64", [-1, 2])],
            outputs=[TensorSpec("predict", "FP64", [-1])],
        )


class ListRecorder:
    """Every record in `records`; those of pinned requests also in `pinned`, as the gateway's stats count them."""

    def __init__(self) -> None:
        self.records: list[tuple] = []
        self.pinned: list[tuple] = []
        self.agreements: list[tuple] = []

    def record(self, model, version, status_code, latency_s, batch_size, *, pinned: bool) -> None:
        record = (model, version, status_code, latency_s is not None, batch_size)
        self.records.append(record)
        if pinned:
            self.pinned.append(record)

    def record_agreement(self, model, version, compared_rows, agreed_rows) -> None:
        self.agreements.append((model, version, compared_rows, agreed_rows))


@pytest.fixture
def fake_caller() -> FakeCaller:
    caller = FakeCaller()
    caller.ready = {"iris-v1", "iris-v2"}
    return caller


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


def two_version_config(**overrides: object) -> dict:
    iris = {
        "versions": [
            {"version": "1", "app": "iris-v1", "weight": 90},
            {"version": "2", "app": "iris-v2", "weight": 10},
        ],
        "champion": "1",
    }
    iris.update(overrides)
    return {"models": {"iris": iris}}


@pytest.fixture
def make_config():
    """Builds the two-version iris policy dict (90/10, champion 1) with overrides of iris's keys."""
    return two_version_config
