from __future__ import annotations

from pathlib import Path

import pytest

from deployments.auth import check_admin_token, load_api_keys, read_admin_token
from deployments.errors import AdminTokenNotConfiguredError
from deployments.metrics import CounterStore
from deployments.stats import ModelStats, ReplicaPush, aggregate_model_stats


def test_counters_accumulate_per_version() -> None:
    store = CounterStore()
    store.record("iris", "1", 200, 0.004, 3)
    store.record("iris", "1", 503, None, None)
    store.record("iris", "2", 200, 0.050, 1)
    snapshot = store.snapshot()
    one = snapshot["iris"]["1"]
    assert (one["requests"], one["errors"], one["latency_ms"]["count"], one["batch_size"]["count"]) == (
        2,
        {"503": 1},
        1,
        1,
    )
    assert one["latency_ms"]["counts"][4] == 1  # 4 ms falls in (3, 5]
    assert snapshot["iris"]["2"]["latency_ms"]["sum"] == pytest.approx(50.0)


def test_aggregation_sums_replicas_and_reports_freshness() -> None:
    first, second = CounterStore(), CounterStore()
    first.record("iris", "1", 200, 0.001, 1)
    second.record("iris", "1", 500, None, None)
    second.record("iris", "2", 200, 0.001, 1)
    second.record_agreement("iris", "2", 4, 3)
    pushes = [
        ReplicaPush(replica="a", pushed_at=100.0, policy_digest="p1", stats=first.snapshot()),
        ReplicaPush(replica="b", pushed_at=99.5, policy_digest="p1", stats=second.snapshot()),
        ReplicaPush(replica="gone", pushed_at=10.0, policy_digest="old", stats=second.snapshot()),
    ]
    stats = aggregate_model_stats(pushes, "iris", now=100.2)
    assert isinstance(stats, ModelStats)
    assert (stats.versions["1"].requests, stats.versions["1"].errors, stats.versions["2"].requests) == (
        3,
        {"500": 2},
        2,
    )
    assert (stats.versions["2"].shadow_rows_compared, stats.versions["2"].shadow_rows_agreed) == (8, 6)
    assert (stats.oldest_push_at, stats.replicas, stats.policy_digests) == (99.5, 3, ["p1"])
    assert aggregate_model_stats(pushes, "wine", now=100.2).versions == {}


def test_api_keys_and_admin_token_sources(tmp_path: Path) -> None:
    assert load_api_keys(None, {"K": "a"}) is None
    assert load_api_keys("K", {"K": " a, b ,,"}) == frozenset({"a", "b"})
    assert load_api_keys("K", {}) == frozenset()  # configured but empty: fails closed
    token_file = tmp_path / "token"
    token_file.write_text("secret\n")
    assert read_admin_token({"RAY_AUTH_TOKEN_PATH": str(token_file)}, tmp_path) == "secret"
    assert read_admin_token({}, tmp_path) is None
    with pytest.raises(AdminTokenNotConfiguredError):
        check_admin_token(None, "Bearer secret")
    check_admin_token("secret", "bearer secret")
