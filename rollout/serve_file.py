"""Keeping the repository's Serve config in step with what a rollout applied, so that deploying it again
(`serve deploy configs/serve.yaml`, `make render` for KubeRay) never silently puts traffic back where the file
left it (docs/design.md, decision 22).

After every write a rollout or `rayship scale` makes, the model's part of the file is made what is live: its entry
in the gateway's policy, the set of its version applications (apps the live policy routes to that the file lacks
are added as Ray reports them; apps the file routes to that are gone live are removed) and each one's replica
settings. Everything else - other models,
the gateway's own options, comments, key order and quoting - stays as written, so `git diff` shows exactly the
rollout's change. The file is replaced atomically.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from deployments.app_config import GATEWAY_APP, GATEWAY_DEPLOYMENT, VERSION_DEPLOYMENT
from rayship.atomic_file import write_atomically
from rollout.effects import Routes
from rollout.errors import ServeFileError
from rollout.live_config import LiveConfig, live_config_dict

# The file a rollout keeps in step and `rayship deploy` deploys: named by this variable, else the repository's own.
SERVE_CONFIG_ENV = "RAYSHIP_SERVE_CONFIG"
DEFAULT_SERVE_CONFIG = Path("configs/serve.yaml")
# What `rayship scale` changes in a version app: kept in step like the policy.
SIZING_KEYS = ("num_replicas", "autoscaling_config")
# Ray's YAML shape as configs/serve.yaml writes it: lists indented under their key.
_INDENT = {"mapping": 2, "sequence": 4, "offset": 2}
_NULL_TAG = "tag:yaml.org,2002:null"


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that changes the live config: which file to keep in step, or none."""
    parser.add_argument(
        "--serve-config",
        type=Path,
        help=f"the Serve config file to keep in step with every change applied, so deploying it again does not undo "
        f"it (env {SERVE_CONFIG_ENV}, default {DEFAULT_SERVE_CONFIG} when it exists here)",
    )
    parser.add_argument(
        "--no-serve-config-sync", action="store_true", help="leave the Serve config file as it is (docs/design.md)"
    )


def chosen(args: argparse.Namespace, say: Callable[[str], Any] = print) -> ServeFileSync | None:
    """The file to keep in step: named, or the repository's own when run from its root; None when told not to,
    or when there is none (said: a Serve config deployed later sets the change back)."""
    if args.no_serve_config_sync:
        return None
    named = args.serve_config or (Path(os.environ[SERVE_CONFIG_ENV]) if os.environ.get(SERVE_CONFIG_ENV) else None)
    if named is None and not DEFAULT_SERVE_CONFIG.is_file():
        say(
            f"note: no {DEFAULT_SERVE_CONFIG} here to keep in step with this change; a Serve config deployed later "
            "sets it back to what that file says (--serve-config PATH)"
        )
        return None
    return ServeFileSync(named or DEFAULT_SERVE_CONFIG, say=say)


def synced_text(text: str, live: LiveConfig, model: str, path: str = "serve config") -> str:
    """`text` (a Serve config file) with `model`'s policy and version apps made what `live` runs."""
    document = _load(text, path)
    applications = _mapping_list(document, "applications", path)
    policies = _gateway_policies(applications, path)
    live_policy = live.policy(model).model_dump(mode="json", exclude_unset=True)
    filed_apps = _routed_apps(policies.get(model))
    live_apps = {route["app"] for route in live_policy["versions"]}
    _sync_policy(policies, model, live_policy)
    kept = [app for app in applications if app.get("name") not in filed_apps - live_apps]
    present = {app.get("name") for app in kept}
    live_entries = {app["name"]: app for app in live_config_dict(live)["applications"]}
    for app in kept:
        if app.get("name") in live_apps and app.get("name") in live_entries:
            _sync_sizing(app, live_entries[app["name"]])
    added = [_block(live_entries[name]) for name in sorted(live_apps - present) if name in live_entries]
    applications[:] = [*kept, *added]
    return _dump(document)


@dataclass(frozen=True)
class ServeFileSync:
    """The file a rollout keeps in step with the live config, and where it says what it did."""

    path: Path
    say: Any = print

    def check(self, live: LiveConfig, model: str) -> None:
        """Raise `ServeFileError` now, before a rollout starts, if the file could not be kept in step."""
        synced_text(self._read(), live, model, str(self.path))

    def sync(self, live: LiveConfig, model: str) -> None:
        """Catch the file up; a failure here is said, not raised: the live change it follows is already made."""
        try:
            before = self._read()
            after = synced_text(before, live, model, str(self.path))
            if after != before:
                write_atomically(self.path, after)
        except (ServeFileError, OSError) as exc:
            self.say(f"warning: {exc}; deploying {self.path} now would undo the rollout's change to '{model}'")
            return
        if after != before:
            self.say(f"{self.path}: '{model}' set to what is live ({_split(live, model)}); review it with git diff")

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServeFileError(str(self.path), f"cannot read it ({exc.strerror})") from exc


class SyncedRouter:
    """A router whose every write is followed by the Serve config file catching up with it."""

    def __init__(self, router: Any, file: ServeFileSync) -> None:
        self.router, self.file = router, file

    def applied(self) -> LiveConfig:
        return self.router.applied()

    def app_statuses(self) -> dict[str, str]:
        return self.router.app_statuses()

    def add_version(self, model: str, version: str, app: dict[str, Any]) -> None:
        self.router.add_version(model, version, app)
        self.file.sync(self.router.applied(), model)

    def set_routes(self, model: str, routes: Routes) -> None:
        self.router.set_routes(model, routes)
        self.file.sync(self.router.applied(), model)

    def remove_version(self, model: str, version: str, app_name: str) -> None:
        self.router.remove_version(model, version, app_name)
        self.file.sync(self.router.applied(), model)


def _split(live: LiveConfig, model: str) -> str:
    return ", ".join(f"v{version} {weight} %" for version, weight in live.weights(model).items())


def _load(text: str, path: str) -> CommentedMap:
    try:
        document = _yaml().load(text)
    except YAMLError as exc:
        raise ServeFileError(path, f"not valid YAML: {exc}") from exc
    if not isinstance(document, CommentedMap):
        raise ServeFileError(path, "it is not a mapping with an 'applications' list")
    return document


def _mapping_list(parent: CommentedMap, key: str, path: str) -> CommentedSeq:
    value = parent.get(key)
    if not isinstance(value, CommentedSeq) or not all(isinstance(item, CommentedMap) for item in value):
        raise ServeFileError(path, f"'{key}' is not a list of mappings")
    return value


def _gateway_policies(applications: CommentedSeq, path: str) -> CommentedMap:
    """The gateway deployment's `user_config.models` mapping, created when the file has none."""
    gateway = next((app for app in applications if app.get("name") == GATEWAY_APP), None)
    if gateway is None:
        raise ServeFileError(path, f"it has no '{GATEWAY_APP}' application")
    deployments = _mapping_list(gateway, "deployments", path)
    deployment = next((entry for entry in deployments if entry.get("name") == GATEWAY_DEPLOYMENT), None)
    if deployment is None:
        raise ServeFileError(path, f"its '{GATEWAY_APP}' application has no '{GATEWAY_DEPLOYMENT}' deployment")
    user_config = deployment.setdefault("user_config", CommentedMap())
    return user_config.setdefault("models", CommentedMap())


def _routed_apps(policy: Any) -> set[str]:
    if not isinstance(policy, dict):
        return set()
    return {route.get("app") for route in policy.get("versions") or [] if isinstance(route, dict)}


def _sync_policy(policies: CommentedMap, model: str, live_policy: dict[str, Any]) -> None:
    """Set the keys that differ and drop the ones the live policy does not set, in place (comments survive)."""
    filed = policies.get(model)
    if not isinstance(filed, CommentedMap):
        policies[model] = filed = CommentedMap()
    for key in [key for key in filed if key not in live_policy]:
        del filed[key]
    for key, value in live_policy.items():
        if filed.get(key) != value:
            filed[key] = _routes(value) if key == "versions" else _block(value)


def _sync_sizing(filed_app: CommentedMap, live_app: dict[str, Any]) -> None:
    """The version deployment's replica settings as live (`rayship scale` changes them), its other keys kept."""
    live = next((entry for entry in live_app.get("deployments") or [] if entry.get("name") == VERSION_DEPLOYMENT), {})
    if not any(key in live for key in SIZING_KEYS) and "deployments" not in filed_app:
        return
    deployments = filed_app.setdefault("deployments", CommentedSeq())
    filed = next((entry for entry in deployments if entry.get("name") == VERSION_DEPLOYMENT), None)
    if filed is None:
        deployments.append(filed := CommentedMap(name=VERSION_DEPLOYMENT))
    for key in SIZING_KEYS:
        if key not in live:
            filed.pop(key, None)
        elif filed.get(key) != live[key]:
            filed[key] = _block(live[key])


def _routes(routes: list[dict[str, Any]]) -> CommentedSeq:
    """Route entries one per line, as configs/serve.yaml writes them: `- {version: "1", app: iris-v1, weight: 100}`."""
    sequence = CommentedSeq()
    for route in routes:
        # Versions are strings that look like numbers: quoted as the file quotes them.
        entry = CommentedMap(
            (key, DoubleQuotedScalarString(value) if key == "version" else value) for key, value in route.items()
        )
        entry.fa.set_flow_style()
        sequence.append(entry)
    return sequence


def _block(value: Any) -> Any:
    if isinstance(value, dict):
        return CommentedMap((key, _block(item)) for key, item in value.items())
    if isinstance(value, list):
        return CommentedSeq(_block(item) for item in value)
    return value


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(**_INDENT)
    # `route_prefix: null` stays written out: an empty value reads as "no key" to a person reviewing the diff.
    yaml.representer.add_representer(type(None), lambda dumper, _: dumper.represent_scalar(_NULL_TAG, "null"))
    return yaml


def _dump(document: CommentedMap) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()
