"""The gateway's traffic policy: the `user_config` of the `Gateway` deployment in `configs/serve.yaml`.

```yaml
user_config:
  max_body_bytes: 1048576          # optional, gateway-wide
  api_keys_env: RAYSHIP_API_KEYS    # optional: env var holding comma-separated keys; absent -> no data-plane auth
  request_timeout_s: 30             # optional: a version silent this long counts as unavailable (503)
  models:
    iris:
      versions:                       # integer weights summing to 100
        - {version: "1", app: iris-v1, weight: 90}
        - {version: "2", app: iris-v2, weight: 10}
      champion: "1"                   # must be one of the versions; failover target
      allow_pinning: true
      sticky_header: x-user-id        # optional
      shadow: {version: "2", percent: 10}   # optional, mirrored & discarded
      failover: true
```

Changing it is a lightweight Serve update: `Gateway.reconfigure()` validates with `GatewayConfig.model_validate`
and swaps the whole policy atomically; no replica restarts. Rollouts parse it into these models, edit typed values
and validate the result with the same models before writing it back (`rollout/serve_edits.py`).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A model or version name ends up in URL paths and metric labels; keep it to a safe alphabet.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
HEADER_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
DEFAULT_MAX_BODY_BYTES = 1_048_576


class VersionRoute(BaseModel):
    """One deployed version of a model and its share of the traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(pattern=NAME_PATTERN, description="Registry version number as a string, e.g. '3'.")
    app: str = Field(pattern=NAME_PATTERN, description="Serve application serving this version, e.g. 'iris-v3'.")
    weight: int = Field(ge=0, le=100, description="Percentage of the model's traffic this version receives.")


class ShadowPolicy(BaseModel):
    """Mirror a share of the model's traffic to one version; its answers are discarded, only measured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(pattern=NAME_PATTERN, description="Version that receives the mirrored requests.")
    percent: int = Field(ge=0, le=100, description="Percentage of the model's requests that are mirrored.")


class ModelPolicy(BaseModel):
    """How one model's requests are split over its deployed versions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: list[VersionRoute] = Field(
        min_length=1, description="Deployed versions with integer weights that sum to 100."
    )
    champion: str | None = Field(
        None,
        description="The trusted version: failover target and metadata source. Defaults to the heaviest version "
        "(the first listed on a tie).",
    )
    allow_pinning: bool = Field(
        True, description="Whether a request may name its version (`/v2/models/{model}/versions/{version}/infer`)."
    )
    sticky_header: str | None = Field(
        None,
        pattern=HEADER_PATTERN,
        description="Request header whose value keeps a user on one version (hash-based); unset means random.",
    )
    shadow: ShadowPolicy | None = Field(
        None, description="Mirror part of the traffic to a version, discarding the answers."
    )
    failover: bool = Field(True, description="Retry a failed non-champion request once on the champion.")
    record_predictions: bool = Field(
        True,
        description="Send every served prediction to the monitor, where labels posted to /v2/models/{model}/feedback "
        "join it; off for a model that never gets labels.",
    )

    @field_validator("sticky_header")
    @classmethod
    def _lowercase_header(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> ModelPolicy:
        names = [route.version for route in self.versions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"versions are listed more than once: {', '.join(duplicates)}")
        apps = [route.app for route in self.versions]
        shared = sorted({app for app in apps if apps.count(app) > 1})
        if shared:
            raise ValueError(f"apps serve more than one version: {', '.join(shared)}")
        total = sum(route.weight for route in self.versions)
        if total != 100:
            raise ValueError(f"version weights must sum to 100, got {total}")
        if self.champion is not None and self.champion not in names:
            raise ValueError(f"champion '{self.champion}' is not one of the versions ({', '.join(names)})")
        if self.shadow is not None and self.shadow.version not in names:
            raise ValueError(f"shadow version '{self.shadow.version}' is not one of the versions ({', '.join(names)})")
        return self

    @property
    def champion_version(self) -> str:
        """The champion, or the heaviest version when none is named."""
        if self.champion is not None:
            return self.champion
        return max(self.versions, key=lambda route: route.weight).version

    def route(self, version: str) -> VersionRoute | None:
        return next((route for route in self.versions if route.version == version), None)


class GatewayConfig(BaseModel):
    """The whole `user_config` of the gateway deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1, description="Largest request body accepted, in bytes; larger gets 413."
    )
    api_keys_env: str | None = Field(
        None,
        pattern=ENV_PATTERN,
        description="Environment variable (in the gateway replicas) holding comma-separated API keys; unset means "
        "the data plane needs no key.",
    )
    request_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Longest wait for a version's answer before it counts as unavailable (503)."
    )
    max_batch_size: int = Field(
        32, ge=1, le=1024, description="Most requests one gateway replica sends to a version app in one call."
    )
    calls_per_replica: int = Field(
        1,
        ge=1,
        le=64,
        description="Calls one gateway replica keeps in flight to each running replica of a version app; further "
        "requests wait and leave together in the next call (deployments/gateway/batcher.py).",
    )
    models: dict[str, ModelPolicy] = Field(default_factory=dict, description="Traffic policy per model name.")

    def routed_apps(self) -> set[str]:
        """The apps requests can reach under this policy: versions with a positive weight and shadow targets."""
        apps = set()
        for policy in self.models.values():
            shadowed = policy.shadow.version if policy.shadow is not None and policy.shadow.percent else None
            apps.update(route.app for route in policy.versions if route.weight > 0 or route.version == shadowed)
        return apps

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: dict[str, ModelPolicy]) -> dict[str, ModelPolicy]:
        bad = sorted(name for name in value if not re.match(NAME_PATTERN, name))
        if bad:
            raise ValueError(f"invalid model names (use letters, digits, '_', '.', '-'): {', '.join(bad)}")
        return value
