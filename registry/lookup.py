"""Looking registry objects up by name, with MLflow's not-found errors turned into rayship's named ones."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import LoggedModel
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from rayship.errors import ModelNotFoundError, VersionNotFoundError
from registry.connection import error_code, mlflow_errors
from registry.errors import LoggedModelNotFoundError

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_EXISTS = ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")


def get_registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    """The registered model `name`; `ModelNotFoundError` if there is none (other MLflow errors propagate)."""
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if error_code(exc) == _NOT_FOUND:
            raise ModelNotFoundError(name) from None
        raise


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """One version; `ModelNotFoundError` or `VersionNotFoundError` says which of the two is missing."""
    with mlflow_errors(f"get version {name}/{version}", client):
        try:
            return client.get_model_version(name, version)
        except MlflowException as exc:
            if error_code(exc) != _NOT_FOUND:
                raise
        get_registered_model(client, name)  # raises ModelNotFoundError when the model itself is missing
    raise VersionNotFoundError(name, version)


def get_logged_model(client: MlflowClient, model_id: str) -> LoggedModel:
    """An MLflow 3 logged model (`m-...`); `LoggedModelNotFoundError` if unknown."""
    with mlflow_errors(f"get logged model {model_id}", client):
        try:
            return client.get_logged_model(model_id)
        except MlflowException as exc:
            if error_code(exc) == _NOT_FOUND:
                raise LoggedModelNotFoundError(model_id) from None
            raise


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create the registered model `name` unless it exists (two sweeps may race to create it)."""
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if error_code(exc) not in _EXISTS:
            raise
