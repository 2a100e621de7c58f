from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from ray import tune

from training.errors import DatasetSourceError, SpecFileError
from training.search_space import to_tune_space
from training.spec import DatasetSpec, SchedulerSpec, SweepSpec, TableSpec, load_spec, with_dataset

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "training"


def base_spec(**overrides):
    spec = {
        "experiment": "iris-sweep",
        "model_name": "iris",
        "dataset": {"name": "iris"},
        "trainer": {"framework": "sklearn", "estimator": "random_forest"},
        "search_space": {"n_estimators": {"type": "randint", "low": 5, "high": 50}},
        "num_samples": 4,
        "metric": "accuracy",
    }
    spec.update(overrides)
    return spec


def error_of(**overrides) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        SweepSpec.model_validate(base_spec(**overrides))
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_is_valid(path):
    spec = load_spec(path)
    assert spec.num_samples * spec.cpus_per_trial <= 16
    assert spec.max_concurrent_trials <= 2


def test_shipped_specs_cover_all_three_frameworks():
    frameworks = {load_spec(p).trainer.framework for p in CONFIGS.glob("*.yaml")}
    assert frameworks == {"sklearn", "xgboost", "pytorch"}
    assert load_spec(CONFIGS / "iris-sklearn.yaml").model_name == "iris"


def test_defaults_and_derived_direction():
    spec = SweepSpec.model_validate(base_spec())
    assert spec.direction == "max"
    assert spec.cpus_per_trial == 0.5
    assert SweepSpec.model_validate(base_spec(metric="log_loss")).direction == "min"


def test_unknown_keys_are_rejected_with_their_path():
    assert error_of(trainer={"framework": "sklearn", "estimator": "random_forest", "jobs": 4}) == [
        ("trainer.jobs", "Extra inputs are not permitted")
    ]


def test_unknown_dataset_is_named():
    assert error_of(dataset={"name": "mnist"}) == [
        ("dataset.name", "Value error, unknown dataset 'mnist'; expected one of breast_cancer, digits, iris, wine")
    ]


def test_invalid_search_space_reports_the_field_path():
    errors = error_of(search_space={"max_depth": {"type": "uniform", "low": 5, "high": 1}})
    assert errors == [("search_space.max_depth.uniform", "Value error, high (1.0) must be greater than low (5.0)")]
    errors = error_of(search_space={"max_depth": {"type": "loguniform", "low": 0, "high": 1}})
    assert errors == [("search_space.max_depth.loguniform.low", "Input should be greater than 0")]
    errors = error_of(search_space={"max_depth": {"type": "normal", "mean": 1}})
    assert errors[0][0] == "search_space.max_depth"


def test_search_space_parameters_must_belong_to_the_estimator():
    errors = error_of(search_space={"learning_rate": {"type": "uniform", "low": 0.01, "high": 0.1}})
    assert errors == [
        (
            "",
            "Value error, search_space.learning_rate: unknown parameter 'learning_rate' for estimator "
            "'random_forest'; expected one of n_estimators, max_depth, min_samples_split, min_samples_leaf, "
            "max_features",
        )
    ]


def test_asha_needs_an_iterative_trainer_and_mode_must_match_metric():
    assert error_of(scheduler={"type": "asha"})[0][1].startswith("Value error, scheduler 'asha' needs an iterative")
    assert error_of(mode="min") == [("", "Value error, metric 'accuracy' is optimised with mode 'max', not 'min'")]


XGBOOST = {"framework": "xgboost", "estimator": "xgb_classifier"}
XGB_SPACE = {"max_depth": {"type": "randint", "low": 2, "high": 6}}


def test_scheduler_defaults_to_fifo_and_asha_takes_its_knobs():
    assert SweepSpec.model_validate(base_spec()).scheduler == SchedulerSpec(
        type="fifo", grace_period=2, reduction_factor=2.0, max_t=100
    )
    asha = {"type": "asha", "grace_period": 1, "reduction_factor": 3, "max_t": 1}
    spec = SweepSpec.model_validate(base_spec(trainer=XGBOOST, search_space=XGB_SPACE, scheduler=asha))
    assert spec.scheduler == SchedulerSpec(type="asha", grace_period=1, reduction_factor=3.0, max_t=1)


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        (
            {"type": "asha", "grace_period": 5, "max_t": 4},
            [("scheduler", "Value error, grace_period (5) must not exceed max_t (4)")],
        ),
        (
            {"type": "asha", "grace_period": 0},
            [("scheduler.grace_period", "Input should be greater than or equal to 1")],
        ),
        ({"type": "asha", "reduction_factor": 1}, [("scheduler.reduction_factor", "Input should be greater than 1")]),
        ({"type": "asha", "max_t": 0}, [("scheduler.max_t", "Input should be greater than or equal to 1")]),
        (
            {"type": "hyperband"},
            [("scheduler.type", "Input should be 'fifo' or 'asha'")],
        ),
        ({"type": "asha", "brackets": 2}, [("scheduler.brackets", "Extra inputs are not permitted")]),
    ],
)
def test_scheduler_fields_are_validated(scheduler, expected):
    assert error_of(trainer=XGBOOST, search_space=XGB_SPACE, scheduler=scheduler) == expected


def test_estimator_must_belong_to_framework():
    assert error_of(trainer={"framework": "xgboost", "estimator": "mlp"}) == [
        ("trainer", "Value error, estimator 'mlp' is not a xgboost estimator; expected one of xgb_classifier")
    ]


def test_load_spec_names_the_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(base_spec(num_samples=0)))
    with pytest.raises(SpecFileError) as info:
        load_spec(path)
    assert str(info.value) == f"Invalid sweep spec {path}: num_samples: Input should be greater than or equal to 1"
    with pytest.raises(SpecFileError, match="file not found"):
        load_spec(tmp_path / "missing.yaml")
    path.write_text("- a list\n")
    with pytest.raises(SpecFileError, match="expected a YAML mapping at the top level"):
        load_spec(path)


def test_search_space_translates_to_tune_domains():
    spec = SweepSpec.model_validate(
        base_spec(
            trainer={"framework": "xgboost", "estimator": "xgb_classifier"},
            search_space={
                "max_depth": {"type": "choice", "values": [2, 3]},
                "learning_rate": {"type": "loguniform", "low": 0.01, "high": 0.3},
                "subsample": {"type": "uniform", "low": 0.5, "high": 1.0},
                "n_estimators": {"type": "randint", "low": 10, "high": 40},
            },
        )
    )
    space = to_tune_space(spec.search_space)
    assert isinstance(space["max_depth"], tune.search.sample.Categorical)
    assert space["max_depth"].categories == [2, 3]
    assert isinstance(space["learning_rate"].get_sampler(), tune.search.sample.LogUniform)
    assert (space["learning_rate"].lower, space["learning_rate"].upper) == (0.01, 0.3)
    assert isinstance(space["subsample"].get_sampler(), tune.search.sample.Float._Uniform)
    assert (space["n_estimators"].lower, space["n_estimators"].upper) == (10, 40)
    assert all(10 <= space["n_estimators"].sample() < 40 for _ in range(50))


def test_dataset_takes_exactly_one_of_three_sources():
    expected = [
        (
            "dataset",
            "Value error, set exactly one of 'name' (a bundled dataset), 'path' (a CSV/Parquet file) or 'table' "
            "(a SQL table)",
        )
    ]
    assert error_of(dataset={"target": "label"}) == expected
    assert error_of(dataset={"name": "iris", "table": {"url": "sqlite:////d.db", "name": "t"}}) == expected


def test_table_source_is_strict_and_its_url_must_parse():
    assert error_of(dataset={"table": {"url": "sqlite:////d.db", "name": "t", "schema": "s"}}) == [
        ("dataset.table.schema", "Extra inputs are not permitted")
    ]
    assert error_of(dataset={"table": {"url": "not a url", "name": "t"}}) == [
        ("dataset.table.url", "Value error, not a SQLAlchemy URL (dialect+driver://user:password@host:port/database)")
    ]


def test_a_table_url_password_stays_out_of_labels_reprs_and_json():
    spec = SweepSpec.model_validate(
        base_spec(dataset={"table": {"url": "postgresql://reader:s3cret@db:5432/features", "name": "iris"}})
    )
    assert spec.dataset.label == "table iris at postgresql://reader:***@db:5432/features"
    assert "s3cret" not in repr(spec)
    # `sweep_spec.json` in the sweep's run is this dump.
    assert spec.model_dump(mode="json")["dataset"]["table"] == {
        "url": "postgresql://reader:***@db:5432/features",
        "name": "iris",
    }
    assert spec.dataset.table.url == "postgresql://reader:s3cret@db:5432/features"


def test_with_dataset_replaces_the_source_and_keeps_the_target():
    spec = SweepSpec.model_validate(base_spec(dataset={"path": "old.csv", "target": "species"}))
    assert with_dataset(spec, "fresh.parquet").dataset == DatasetSpec(path=Path("fresh.parquet"), target="species")
    table = with_dataset(spec, "sqlite:////abs/fresh.db#iris_fresh", "label").dataset
    assert table == DatasetSpec(table=TableSpec(url="sqlite:////abs/fresh.db", name="iris_fresh"), target="label")
    # The last '#' splits: a password may hold one.
    assert with_dataset(spec, "postgresql://u:p#w@h/db#rows").dataset.table == TableSpec(
        url="postgresql://u:p#w@h/db", name="rows"
    )
    assert with_dataset(spec, "old.csv").model_dump() == spec.model_dump()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "fresh.txt",
            "Invalid dataset source fresh.txt: dataset: Value error, path 'fresh.txt' must end in .csv or .parquet",
        ),
        (
            "sqlite:////abs/fresh.db",
            "Invalid dataset source sqlite:////abs/fresh.db: a database URL needs '#TABLE' after it, "
            "e.g. sqlite:////abs/data.db#rows",
        ),
        (
            "sqlite:////abs/fresh.db#",
            "Invalid dataset source sqlite:////abs/fresh.db#: dataset.table.name: String should have at least 1 "
            "character",
        ),
        (
            "postgresql://u:s3cret@h:port/db#rows",
            "Invalid dataset source postgresql://u:***@h:port/db#rows: dataset.table.url: Value error, not a "
            "SQLAlchemy URL (dialect+driver://user:password@host:port/database)",
        ),
    ],
)
def test_bad_dataset_sources_are_one_clear_error(source, message):
    with pytest.raises(DatasetSourceError) as info:
        with_dataset(SweepSpec.model_validate(base_spec()), source)
    assert str(info.value) == message
