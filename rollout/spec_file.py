"""Load a rollout spec YAML file, turning every problem into one `SpecError` that names the file and field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from rollout.core.spec import RolloutSpec, parse_spec
from rollout.errors import SpecError

STRATEGIES = ("canary", "bluegreen", "shadow", "abtest")


def load_spec(path: str | Path) -> RolloutSpec:
    """Read and validate a spec; raises SpecError("Rollout spec <path>: <field.path>: <problem>")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), f"cannot be read ({exc.strerror})") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(str(path), f"is not valid YAML ({exc})") from exc
    if not isinstance(document, dict):
        raise SpecError(str(path), "must be a YAML mapping with a 'strategy' key")
    try:
        return parse_spec(document)
    except ValidationError as exc:
        raise SpecError(str(path), describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """'field.path: message' for each error, without the union tag pydantic puts first in the location."""
    problems = []
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"]]
        if location and location[0] in STRATEGIES:
            location = location[1:]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            message = f"strategy must be one of {', '.join(STRATEGIES)}"
            location = ["strategy"]
        elif error["type"] == "union_tag_not_found":
            message = f"'strategy' is required (one of {', '.join(STRATEGIES)})"
            location = ["strategy"]
        problems.append(f"{'.'.join(location)}: {message}" if location else message)
    return "; ".join(problems)
