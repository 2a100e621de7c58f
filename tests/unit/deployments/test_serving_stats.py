from __future__ import annotations

from pathlib import Path

import pytest

from deployments.auth import check_admin_token, load_api_keys
from deployments.errors import AdminTokenNotConfiguredError
from deployments.gateway import prometheus
from deployments.metrics import CounterStore
from deployments.stats import ModelStats, ReplicaPush, VersionStats, aggregate_model_stats


def test_counters_accumulate_per_version() -> None:
    store = CounterStore()
    store.record("iris", "1", 200, 0.004, 3, pinned=False)
    store.record("iris", "1", 503, None, None, pinned=False)
    store.record("iris", "2", 200, 0.050, 1, pinned=False)
    snapshot = store.snapshot()
    one = snapshot["iris"]["1"]
    assert (one["requests"], one["errors"], one["latency_ms"]["count"], one["batch_size"]["count"]) == (
        2,
        {"503": 1},
        1,
        1,
    )
    assert (one["pinned_requests"], one["pinned_errors"]) == (0, {})
    assert one["latency_ms"]["counts"][4] == 1  # 4 ms falls in (3, 5]
    assert snapshot["iris"]["2"]["latency_ms"]["sum"] == pytest.approx(50.0)


def test_aggregation_sums_replicas_and_reports_freshness() -> None:
    first, second = CounterStore(), CounterStore()
    first.record("iris", "1", 200, 0.001, 1, pinned=False)
    first.record("iris", "1", 400, None, None, pinned=True)
    second.record("iris", "1", 500, None, None, pinned=False)
    second.record("iris", "2", 200, 0.001, 1, pinned=False)
    second.record_agreement("iris", "2", 4, 3)
    pushes = [
        ReplicaPush(replica="a", pushed_at=100.0, policy_digest="p1", stats=first.snapshot()),
        ReplicaPush(replica="b", pushed_at=99.5, policy_digest="p1", stats=second.snapshot()),
        ReplicaPush(replica="gone", pushed_at=10.0, policy_digest="old", stats=second.snapshot()),
    ]
    stats = aggregate_model_stats(pushes, "iris", now=100.2)
    assert isinstance(stats, ModelStats)
    assert (stats.versions["1"].requests, stats.versions["1"].errors, stats.versions["2"].requests) == (
        4,
        {"400": 1, "500": 2},
        2,
    )
    assert (stats.versions["1"].pinned_requests, stats.versions["1"].pinned_errors) == (1, {"400": 1})
    assert (stats.versions["2"].shadow_rows_compared, stats.versions["2"].shadow_rows_agreed) == (8, 6)
    assert (stats.oldest_push_at, stats.replicas, stats.policy_digests) == (99.5, 3, ["p1"])
    assert aggregate_model_stats(pushes, "wine", now=100.2).versions == {}


def test_pinned_requests_and_their_failures_are_counted_apart_by_status() -> None:
    store = CounterStore()
    store.record("iris", "2", 200, 0.002, 1, pinned=True)
    store.record("iris", "2", 500, None, None, pinned=True)
    store.record("iris", "2", 400, None, None, pinned=True)
    store.record("iris", "2", 200, 0.002, 1, pinned=False)
    store.record("iris", "2", 500, None, None, pinned=False)
    two = VersionStats.model_validate(store.snapshot()["iris"]["2"])
    # Every request stays in requests and errors; the pinned ones are their own part of them.
    assert (two.requests, two.errors) == (5, {"500": 2, "400": 1})
    assert (two.pinned_requests, two.pinned_errors) == (3, {"500": 1, "400": 1})
    assert two.latency_ms.count == 2  # both successes are timed, pinned or not
    merged = two.merged(two)
    assert (merged.requests, merged.errors, merged.pinned_requests, merged.pinned_errors) == (
        10,
        {"500": 4, "400": 2},
        6,
        {"500": 2, "400": 2},
    )


class FakeMetric:
    """Stands in for Ray's Counter and Histogram: keeps what was recorded, checks the tags are the declared ones."""

    def __init__(self, tag_keys: tuple) -> None:
        self.tag_keys, self.seen = tag_keys, []

    def inc(self, value: float, tags: dict) -> None:
        assert set(tags) == set(self.tag_keys)
        self.seen.append((value, tags))

    observe = inc


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeMetric]:
    """The metrics a `PrometheusRecorder` creates, by name."""
    metrics: dict[str, FakeMetric] = {}

    def create(name: str, description: str, boundaries: list | None = None, tag_keys: tuple = ()) -> FakeMetric:
        metrics[name] = FakeMetric(tag_keys)
        return metrics[name]

    monkeypatch.setattr(prometheus, "Counter", create)
    monkeypatch.setattr(prometheus, "Histogram", create)
    return metrics


def test_prometheus_labels_requests_and_errors_with_pinned(exported: dict[str, FakeMetric]) -> None:
    recorder = prometheus.PrometheusRecorder()
    recorder.record("iris", "2", 500, None, None, pinned=True)
    recorder.record("iris", "2", 200, 0.003, 1, pinned=False)
    iris_2 = {"model": "iris", "version": "2"}
    assert exported["rayship_requests"].seen == [(1, {**iris_2, "pinned": "true"}), (1, {**iris_2, "pinned": "false"})]
    assert exported["rayship_errors"].seen == [(1, {**iris_2, "pinned": "true", "code": "500"})]
    assert exported["rayship_latency_ms"].seen == [(pytest.approx(3.0), iris_2)]


def test_api_keys_and_admin_token_sources(tmp_path: Path) -> None:
    assert load_api_keys(None, {"K": "a"}) is None
    assert load_api_keys("K", {"K": " a, b ,,"}) == frozenset({"a", "b"})
    assert load_api_keys("K", {}) == frozenset()  # configured but empty: fails closed
    with pytest.raises(AdminTokenNotConfiguredError):
        check_admin_token(None, "Bearer secret")
    check_admin_token("secret", "bearer secret")
