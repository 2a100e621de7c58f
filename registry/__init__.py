"""rayship registry: the seam between rayship and MLflow's model registry.

The public verbs are re-exported lazily (PEP 562) so that importing `registry.errors` — which every package does,
including the pure rollout policy — does not import MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.api import PinnedVersion, VerifyReport, download_verified, register, resolve, verify
    from registry.model_facts import ModelFacts, read_model_facts

_EXPORTS = {
    "PinnedVersion": "registry.api",
    "VerifyReport": "registry.api",
    "download_verified": "registry.api",
    "register": "registry.api",
    "resolve": "registry.api",
    "verify": "registry.api",
    "ModelFacts": "registry.model_facts",
    "read_model_facts": "registry.model_facts",
}

__all__ = [
    "ModelFacts",
    "PinnedVersion",
    "VerifyReport",
    "download_verified",
    "read_model_facts",
    "register",
    "resolve",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
