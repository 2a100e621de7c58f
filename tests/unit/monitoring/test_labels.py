"""monitoring.labels.JoinStore with an injected clock: joins, duplicates, TTL expiry, the size bound and tombstones,
mismatched label lists; and the spec's `labels` and `task` fields it is configured by."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from monitoring.errors import MonitorSpecError
from monitoring.labels import JoinedLabel, JoinResult, JoinStore, LabelItem, PredictionRecord
from monitoring.spec import LabelSpec, MonitorSpec, WindowSpec, parse_spec

pytestmark = pytest.mark.unit

TTL_S = 10.0


def rec(request_id: str, at: float = 0.0, model: str = "m", version: str = "1", predictions=None) -> PredictionRecord:
    return PredictionRecord(
        request_id=request_id,
        model=model,
        version=version,
        predictions=[0] if predictions is None else predictions,
        served_at_s=at,
    )


def item(request_id: str, label=0) -> LabelItem:
    return LabelItem(request_id=request_id, label=label)


def store_with(*records: PredictionRecord, now_s: float = 0.0, ttl_s: float = TTL_S, max_pending: int = 100):
    store = JoinStore()
    store.record(list(records), now_s, lambda model: ttl_s, lambda model: max_pending)
    return store


def put(store: JoinStore, *records: PredictionRecord, now_s: float, ttl_s: float = TTL_S, max_pending: int = 100):
    store.record(list(records), now_s, lambda model: ttl_s, lambda model: max_pending)


def counts(result: JoinResult) -> tuple[int, int, int, int, list[str]]:
    return result.accepted, result.unknown, result.expired, result.duplicate, result.mismatched


# --- joins and duplicates ---


def test_a_label_joins_its_prediction_once_and_leaves_the_store() -> None:
    store = store_with(rec("a", at=100.0, version="3", predictions=["setosa"]), now_s=100.0)

    result = store.join("m", [item("a", "versicolor")], now_s=104.5, ttl_s=TTL_S)

    assert counts(result) == (1, 0, 0, 0, [])
    assert result.joined == [
        JoinedLabel(request_id="a", version="3", predictions=["setosa"], labels=["versicolor"], delay_s=4.5)
    ]
    assert store.pending_count("m") == 0


def test_a_second_label_for_the_same_request_is_a_duplicate() -> None:
    store = store_with(rec("a"), rec("b"))

    first = store.join("m", [item("a"), item("a")], now_s=1.0, ttl_s=TTL_S)
    second = store.join("m", [item("a"), item("b")], now_s=2.0, ttl_s=TTL_S)

    assert counts(first) == (1, 0, 0, 1, [])
    assert counts(second) == (1, 0, 0, 1, [])
    assert [pair.request_id for pair in first.joined + second.joined] == ["a", "b"]


def test_ids_the_store_never_held_are_unknown_and_models_are_kept_apart() -> None:
    store = store_with(rec("a", model="m"), rec("a", model="n", version="7"))

    assert counts(store.join("m", [item("zzz")], now_s=1.0, ttl_s=TTL_S)) == (0, 1, 0, 0, [])
    assert counts(store.join("other", [item("a")], now_s=1.0, ttl_s=TTL_S)) == (0, 1, 0, 0, [])
    joined = store.join("n", [item("a")], now_s=1.0, ttl_s=TTL_S).joined
    assert [pair.version for pair in joined] == ["7"]
    assert store.pending_count("m") == 1  # m's "a" is untouched by n's label


def test_a_later_record_with_the_same_id_replaces_the_earlier() -> None:
    store = store_with(rec("a", at=0.0, version="1"))
    put(store, rec("a", at=1.0, version="2", predictions=[5]), now_s=1.0)

    result = store.join("m", [item("a", 5)], now_s=2.0, ttl_s=TTL_S)

    assert store.pending_count("m") == 0
    assert [(pair.version, pair.predictions, pair.delay_s) for pair in result.joined] == [("2", [5], 1.0)]


def test_an_id_recorded_again_after_its_join_is_pending_again() -> None:
    store = store_with(rec("a"))
    store.join("m", [item("a")], now_s=1.0, ttl_s=TTL_S)
    put(store, rec("a", at=2.0), now_s=2.0)

    assert counts(store.join("m", [item("a")], now_s=3.0, ttl_s=TTL_S)) == (1, 0, 0, 0, [])


# --- expiry by TTL ---


def test_a_label_within_the_ttl_joins_and_one_after_it_is_expired_for_good() -> None:
    store = store_with(rec("on-time", at=0.0), rec("late", at=0.0))

    on_time = store.join("m", [item("on-time")], now_s=TTL_S, ttl_s=TTL_S)  # exactly the TTL: still waiting
    late = store.join("m", [item("late")], now_s=TTL_S + 0.001, ttl_s=TTL_S)
    again = store.join("m", [item("late")], now_s=TTL_S + 1.0, ttl_s=TTL_S)

    assert counts(on_time) == (1, 0, 0, 0, [])
    assert counts(late) == (0, 0, 1, 0, [])
    assert counts(again) == (0, 0, 1, 0, [])  # the tombstone answers, not "unknown"


def test_recording_sweeps_expired_predictions_of_every_model_into_tombstones() -> None:
    store = store_with(rec("old", at=0.0, model="quiet"), rec("a", at=0.0))
    put(store, rec("b", at=20.0), now_s=20.0)  # only m records; quiet's prediction expires all the same

    assert (store.pending_count("m"), store.tombstone_count("m")) == (1, 1)
    assert (store.pending_count("quiet"), store.tombstone_count("quiet")) == (0, 1)
    assert counts(store.join("quiet", [item("old")], now_s=20.0, ttl_s=TTL_S)) == (0, 0, 1, 0, [])


def test_the_ttl_callable_is_asked_per_model() -> None:
    store = JoinStore()
    ttls = {"short": 1.0, "long": 100.0}
    store.record([rec("a", model="short"), rec("a", model="long")], 0.0, ttls.__getitem__, lambda model: 10)
    store.record([], 5.0, ttls.__getitem__, lambda model: 10)

    assert (store.pending_count("short"), store.pending_count("long")) == (0, 1)


def test_a_record_already_past_its_ttl_is_a_tombstone_at_once() -> None:
    store = store_with(rec("stale", at=0.0), now_s=60.0)

    assert (store.pending_count("m"), store.tombstone_count("m")) == (0, 1)
    assert counts(store.join("m", [item("stale")], now_s=60.0, ttl_s=TTL_S)) == (0, 0, 1, 0, [])


def test_join_judges_each_predictions_age_itself_even_out_of_order() -> None:
    # "early" was recorded after "late" but served before it: the sweep stops at "late", the join still says expired.
    store = store_with(rec("late", at=8.0), rec("early", at=0.0), now_s=8.0)

    result = store.join("m", [item("early"), item("late")], now_s=12.0, ttl_s=TTL_S)

    assert counts(result) == (1, 0, 1, 0, [])
    assert [pair.request_id for pair in result.joined] == ["late"]


def test_tombstones_last_one_more_ttl_and_then_the_model_is_forgotten() -> None:
    store = store_with(rec("a", at=0.0, model="gone"), rec("b", at=0.0, model="gone"))
    store.join("gone", [item("b")], now_s=1.0, ttl_s=TTL_S)  # "b" leaves at 1: its tombstone lasts until 11
    put(store, now_s=10.5)  # "a" expires and leaves at 10.5: its tombstone lasts until 20.5

    assert store.tombstone_count("gone") == 2
    assert counts(store.join("gone", [item("a"), item("b")], now_s=10.8, ttl_s=TTL_S)) == (0, 0, 1, 1, [])
    put(store, now_s=11.5)
    assert store.tombstone_count("gone") == 1
    assert counts(store.join("gone", [item("a"), item("b")], now_s=11.5, ttl_s=TTL_S)) == (0, 1, 1, 0, [])
    put(store, now_s=21.0)
    assert store.models() == []
    assert counts(store.join("gone", [item("a")], now_s=21.0, ttl_s=TTL_S)) == (0, 1, 0, 0, [])


# --- the size bound and tombstones ---


def test_beyond_max_pending_the_earliest_recorded_are_dropped_and_answer_expired() -> None:
    store = store_with(*(rec(f"r{i}", at=float(i)) for i in range(5)), now_s=5.0, max_pending=3)

    assert store.pending_count("m") == 3
    result = store.join("m", [item(f"r{i}") for i in range(5)], now_s=5.0, ttl_s=TTL_S)
    assert counts(result) == (3, 0, 2, 0, [])
    assert [pair.request_id for pair in result.joined] == ["r2", "r3", "r4"]


def test_a_smaller_max_pending_in_a_later_spec_applies_at_the_next_record() -> None:
    store = store_with(*(rec(f"r{i}") for i in range(10)), max_pending=10)
    put(store, now_s=0.0, max_pending=4)

    assert store.pending_count("m") == 4


def test_tombstones_are_bounded_too_and_the_oldest_are_forgotten() -> None:
    store = store_with(*(rec(f"r{i}", at=float(i)) for i in range(6)), now_s=6.0, max_pending=2)

    # r0..r3 were dropped for size; only the newest two tombstones (r2, r3) remain.
    assert (store.pending_count("m"), store.tombstone_count("m")) == (2, 2)
    result = store.join("m", [item("r0"), item("r1"), item("r2"), item("r3")], now_s=6.0, ttl_s=TTL_S)
    assert counts(result) == (0, 2, 2, 0, [])


def test_joined_ids_share_the_tombstone_bound() -> None:
    store = store_with(*(rec(f"r{i}") for i in range(3)), max_pending=2)
    store.join("m", [item("r1"), item("r2")], now_s=1.0, ttl_s=TTL_S)

    # r0's "expired" tombstone was pushed out by the two joins' "duplicate" ones.
    assert store.tombstone_count("m") == 2
    result = store.join("m", [item("r0"), item("r1"), item("r2")], now_s=1.0, ttl_s=TTL_S)
    assert counts(result) == (0, 1, 0, 2, [])


def test_memory_stays_bounded_by_max_pending_per_model() -> None:
    """Pending predictions and tombstones never exceed `max_pending` each, per model, however many are recorded.

    What one entry costs, measured once with tracemalloc (CPython 3.11.7, x86_64; 100 000 one-row records of one
    model, 32-character hex request ids, a distinct float prediction each, version "3", recorded 1000 at a time,
    the pydantic records dropped after each call): about 356 bytes per pending prediction (the ordered index entry,
    the stored tuple, the id string, the one-item list and its float) and about 290 more per tombstone (its index
    entry, the id string it keeps and an (outcome, time) pair; the time is shared by the ids buried in one call).
    So a model at the default `max_pending` of 100 000 with both sets full holds about 65 MB; each further row of a
    request adds an 8-byte list slot plus its value (24 bytes for a float; small ints and repeated strings are
    shared).
    """
    store, bound = JoinStore(), 50
    for batch in range(40):
        records = [rec(f"{batch}-{i}", at=float(batch), model=model) for i in range(20) for model in ("a", "b")]
        store.record(records, float(batch), lambda model: 1_000.0, lambda model: bound)
        store.join("a", [item(f"{batch}-0"), item(f"{batch}-1")], now_s=float(batch), ttl_s=1_000.0)
        for model in ("a", "b"):
            assert store.pending_count(model) <= bound
            assert store.tombstone_count(model) <= bound

    assert store.pending_count("b") == bound and store.tombstone_count("b") == bound


# --- mismatched label lists ---


def test_a_label_list_must_have_one_label_per_row_or_the_prediction_waits_on() -> None:
    store = store_with(rec("two", predictions=[1, 0]), rec("one", predictions=[1]))

    wrong = store.join("m", [item("two", 1), item("two", [1, 0, 1]), item("one", [1, 1])], now_s=1.0, ttl_s=TTL_S)
    right = store.join("m", [item("two", [1, 1]), item("one", [1])], now_s=2.0, ttl_s=TTL_S)

    assert counts(wrong) == (0, 0, 0, 0, ["two", "two", "one"])
    assert counts(right) == (2, 0, 0, 0, [])
    assert [(pair.predictions, pair.labels) for pair in right.joined] == [([1, 0], [1, 1]), ([1], [1])]


def test_an_expired_prediction_is_expired_whatever_its_label_list() -> None:
    store = store_with(rec("two", predictions=[1, 0]))

    assert counts(store.join("m", [item("two", 1)], now_s=60.0, ttl_s=TTL_S)) == (0, 0, 1, 0, [])


# --- label items ---


@pytest.mark.parametrize(
    ("label", "rows"),
    [(1, [1]), (True, [True]), (2.5, [2.5]), ("cat", ["cat"]), ([0, "x", False, 1.5], [0, "x", False, 1.5])],
)
def test_a_label_item_keeps_its_values_and_types(label, rows) -> None:
    labels = item("a", label).rows()

    assert labels == rows
    assert [type(value) for value in labels] == [type(value) for value in rows]


@pytest.mark.parametrize("label", [None, {"a": 1}, [[1]], [], math.nan, [1.0, math.inf], "x" * 257, [None]], ids=repr)
def test_a_label_item_rejects_what_is_no_label(label) -> None:
    with pytest.raises(ValidationError):
        item("a", label)


@pytest.mark.parametrize("request_id", ["", "x" * 257])
def test_a_label_item_bounds_its_request_id(request_id: str) -> None:
    with pytest.raises(ValidationError):
        item(request_id)


# --- the spec's fields ---


def test_the_label_spec_defaults() -> None:
    spec = MonitorSpec(model="m")

    assert spec.task is None
    assert spec.labels == LabelSpec(
        ttl_s=3600, max_pending=100_000, window=WindowSpec(rows=500, seconds=3600, bucket_s=60), min_labels=50
    )
    assert parse_spec({"model": "m", "task": "regression", "labels": {"ttl_s": 60}}, "f").labels.ttl_s == 60


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"ttl_s": 0}, "labels.ttl_s: Input should be greater than 0"),
        ({"ttl_s": 7 * 86400 + 1}, "labels.ttl_s: Input should be less than or equal to 604800"),
        ({"max_pending": 0}, "labels.max_pending: Input should be greater than or equal to 1"),
        ({"max_pending": 10_000_001}, "labels.max_pending: Input should be less than or equal to 10000000"),
        ({"min_labels": 0}, "labels.min_labels: Input should be greater than or equal to 1"),
        ({"min_labels": 501}, "labels: Value error, min_labels (501) must not exceed window.rows (500)"),
        ({"window": {"rows": 5}}, "labels.window.rows: Input should be greater than or equal to 10"),
        (
            {"window": {"seconds": 30, "bucket_s": 60}},
            "labels.window: Value error, bucket_s (60.0) must not exceed seconds (30.0)",
        ),
        ({"ttl": 60}, "labels.ttl: Extra inputs are not permitted"),
    ],
)
def test_the_label_spec_names_the_bad_field(labels: dict, message: str) -> None:
    with pytest.raises(MonitorSpecError) as exc:
        parse_spec({"model": "m", "labels": labels}, "configs/monitoring/m.yaml")

    assert str(exc.value) == f"Monitoring spec 'configs/monitoring/m.yaml' is invalid: {message}"


def test_the_task_is_classification_regression_or_absent() -> None:
    with pytest.raises(MonitorSpecError) as exc:
        parse_spec({"model": "m", "task": "ranking"}, "f.yaml")

    expected = "Monitoring spec 'f.yaml' is invalid: task: Input should be 'classification' or 'regression'"
    assert str(exc.value) == expected
