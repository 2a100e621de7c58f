"""Monitoring spec files: the shipped ones validate, bad ones name the file and the field, stored tags parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring.errors import MonitorSpecError
from monitoring.reporter import parse_spec_json
from monitoring.spec import MonitorSpec, load_spec

pytestmark = pytest.mark.unit

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "monitoring"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_validates_and_names_its_file_s_model(path: Path) -> None:
    spec = load_spec(path)

    assert spec.model == path.stem
    assert spec.min_rows <= spec.window.rows


def test_a_bad_file_names_itself_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "iris.yaml"
    bad.write_text("model: iris\nwindow: {rows: 5}\n")
    missing = tmp_path / "nope.yaml"

    with pytest.raises(MonitorSpecError) as caught:
        load_spec(bad)
    assert str(caught.value) == (
        f"Monitoring spec '{bad}' is invalid: window.rows: Input should be greater than or equal to 10"
    )
    with pytest.raises(MonitorSpecError) as caught:
        load_spec(missing)
    assert str(caught.value) == f"Monitoring spec '{missing}' is invalid: cannot be read (No such file or directory)"


def test_a_stored_spec_parses_and_a_corrupt_one_falls_back_to_the_defaults() -> None:
    stored = MonitorSpec(model="iris", min_rows=10)

    assert parse_spec_json(stored.model_dump_json(), "iris") == stored
    assert parse_spec_json("{not json", "iris") is None
    assert parse_spec_json('{"model": "iris", "min_rows": 0}', "iris") is None
