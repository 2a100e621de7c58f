from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from deployments.dataplane import DataPlane, agreeing_rows
from deployments.errors import NoReadyVersionError, VersionFailedError, VersionNotReadyError, VersionReportedError
from deployments.metrics import CounterStore
from deployments.output_split import split_outputs
from deployments.traffic_policy import GatewayConfig
from deployments.types import Features
from rayship.errors import ModelNotServedError, UnavailableError

ROWS = Features(np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.fixture
def plane(fake_caller, recorder, make_config):
    def build(draws: list[float], **overrides: object) -> DataPlane:
        """A data plane whose random draws are `draws`, in order (route draw, then shadow draw)."""
        sequence = iter(draws)
        config = GatewayConfig.model_validate(make_config(**overrides))
        return DataPlane(fake_caller, recorder, config, rng=lambda: next(sequence), clock=lambda: 0.0)

    return build


def run(coro):
    return asyncio.run(coro)


def test_the_draw_picks_the_version_and_the_answer_is_labelled(plane, fake_caller, recorder) -> None:
    served = run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert (served.version, served.prediction.predictions) == ("2", [3.0, 7.0])
    assert recorder.records == [("iris", "2", 200, True, 2)]


def test_a_failing_candidate_fails_over_to_the_champion_and_counts_against_itself(plane, fake_caller, recorder) -> None:
    fake_caller.failing["iris-v2"] = RuntimeError("replica died")
    served = run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert served.version == "1"
    assert recorder.records == [("iris", "2", 500, False, None), ("iris", "1", 200, True, 2)]
    assert fake_caller.calls == ["iris-v2", "iris-v1"]


def test_an_unavailable_candidate_counts_as_503(plane, fake_caller, recorder) -> None:
    fake_caller.failing["iris-v2"] = UnavailableError("backpressure")
    run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert recorder.records[0] == ("iris", "2", 503, False, None)


def test_a_candidate_that_is_not_ready_fails_over(plane, fake_caller, recorder) -> None:
    fake_caller.ready = {"iris-v1"}
    served = run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert served.version == "1"
    assert recorder.records == [("iris", "2", 503, False, None), ("iris", "1", 200, True, 2)]


def test_without_failover_the_candidate_failure_is_the_answer(plane, fake_caller, recorder) -> None:
    fake_caller.failing["iris-v2"] = RuntimeError("boom")
    with pytest.raises(VersionFailedError, match="^Model 'iris' version '2' failed: RuntimeError$") as caught:
        run(plane([0.95, 0.9], failover=False).predict("iris", ROWS))
    assert caught.value.status_code == 500


def test_bad_input_reported_by_a_version_is_not_retried(plane, fake_caller, recorder) -> None:
    fake_caller.expected_features["iris-v2"] = 4
    with pytest.raises(VersionReportedError, match="^expects 4 features, got 2$") as caught:
        run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert caught.value.status_code == 400
    assert fake_caller.calls == ["iris-v2"]
    assert recorder.records == [("iris", "2", 400, False, None)]


def test_no_ready_version_is_a_503(plane, fake_caller, recorder) -> None:
    fake_caller.ready = set()
    with pytest.raises(NoReadyVersionError, match="^Model 'iris' has no ready version$"):
        run(plane([0.1, 0.9]).predict("iris", ROWS))
    with pytest.raises(NoReadyVersionError, match="^Model 'iris' has no ready version$"):
        run(plane([0.95, 0.9]).predict("iris", ROWS))


def test_a_pinned_version_that_is_not_ready_is_named(plane, fake_caller, recorder) -> None:
    fake_caller.ready = {"iris-v1"}
    with pytest.raises(VersionNotReadyError, match="^Model 'iris' version '2' is not ready$"):
        run(plane([0.1, 0.9]).predict("iris", ROWS, pinned="2"))


def test_pinned_requests_are_counted_as_pinned_and_routed_ones_are_not(plane, fake_caller, recorder) -> None:
    data_plane = plane([0.1, 0.9, 0.1, 0.9, 0.95, 0.9])
    assert run(data_plane.predict("iris", ROWS, pinned="2")).version == "2"
    fake_caller.failing["iris-v2"] = RuntimeError("boom")
    with pytest.raises(VersionFailedError, match="^Model 'iris' version '2' failed: RuntimeError$"):
        run(data_plane.predict("iris", ROWS, pinned="2"))  # pinned: no failover, the failure is the answer
    assert run(data_plane.predict("iris", ROWS)).version == "1"  # routed to 2, failed over to the champion
    assert recorder.records == [
        ("iris", "2", 200, True, 2),
        ("iris", "2", 500, False, None),
        ("iris", "2", 500, False, None),
        ("iris", "1", 200, True, 2),
    ]
    assert recorder.pinned == [("iris", "2", 200, True, 2), ("iris", "2", 500, False, None)]


def test_a_pinned_version_that_is_not_ready_counts_a_pinned_503(plane, fake_caller, recorder) -> None:
    fake_caller.ready = {"iris-v1"}
    with pytest.raises(VersionNotReadyError):
        run(plane([0.1, 0.9]).predict("iris", ROWS, pinned="2"))
    assert recorder.pinned == recorder.records == [("iris", "2", 503, False, None)]


def nan_from(app_name: str, fake_caller):
    """The fake caller, with `app_name` answering through `split_outputs` as if its model returned NaN."""
    original = fake_caller.predict

    async def predict(app: str, features: Features):
        if app == app_name:
            return split_outputs(np.full(features.num_rows, np.nan), None, [features.num_rows], "2", None)[0]
        return await original(app, features)

    return predict


def test_a_non_finite_output_is_a_counted_500_of_that_version(fake_caller, make_config) -> None:
    fake_caller.predict = nan_from("iris-v2", fake_caller)
    store = CounterStore()
    config = GatewayConfig.model_validate(make_config(failover=False))
    data_plane = DataPlane(fake_caller, store, config, rng=lambda: 0.95, clock=lambda: 0.0)
    with pytest.raises(VersionFailedError) as caught:
        run(data_plane.predict("iris", ROWS))
    assert (caught.value.status_code, str(caught.value)) == (
        500,
        "Model 'iris' version '2' failed: returned a non-finite output (NaN or infinity)",
    )
    two = store.snapshot()["iris"]["2"]
    assert (two["requests"], two["errors"], two["pinned_requests"], two["latency_ms"]["count"]) == (1, {"500": 1}, 0, 0)


def test_a_non_finite_output_fails_over_and_still_counts_against_the_candidate(plane, fake_caller, recorder) -> None:
    fake_caller.predict = nan_from("iris-v2", fake_caller)
    served = run(plane([0.95, 0.9]).predict("iris", ROWS))
    assert (served.version, served.prediction.predictions) == ("1", [3.0, 7.0])
    assert recorder.records == [("iris", "2", 500, False, None), ("iris", "1", 200, True, 2)]


def test_sticky_keys_override_the_random_draw(plane, fake_caller, recorder) -> None:
    data_plane = plane([0.0] * 100, sticky_header="x-user-id")
    versions = {run(data_plane.predict("iris", ROWS, sticky_key=f"user-{i}")).version for i in range(60)}
    assert versions == {"1", "2"}  # with u=0.0 every random draw would have been version 1


def test_shadow_requests_are_measured_and_discarded(plane, fake_caller, recorder) -> None:
    async def scenario() -> str:
        data_plane = plane([0.1, 0.05], shadow={"version": "2", "percent": 10})
        served = await data_plane.predict("iris", ROWS)
        await asyncio.sleep(0)  # let the mirrored call finish
        return served.version

    assert run(scenario()) == "1"
    assert sorted(recorder.records) == [("iris", "1", 200, True, 2), ("iris", "2", 200, True, 2)]
    assert recorder.pinned == []  # the policy mirrored it: the shadow target is judged by it
    assert recorder.agreements == [("iris", "2", 2, 2)]  # the fake predicts row sums for every version


def test_a_mirrored_answer_that_differs_counts_the_disagreeing_rows(plane, fake_caller, recorder) -> None:
    original = fake_caller.predict

    async def candidate_adds_one_to_the_first_row(app: str, features: Features):
        answer = await original(app, features)
        if app == "iris-v2":
            return dataclasses.replace(answer, predictions=[answer.predictions[0] + 1, *answer.predictions[1:]])
        return answer

    fake_caller.predict = candidate_adds_one_to_the_first_row

    async def scenario() -> None:
        await plane([0.1, 0.05], shadow={"version": "2", "percent": 10}).predict("iris", ROWS)
        await asyncio.sleep(0)

    run(scenario())
    assert recorder.agreements == [("iris", "2", 2, 1)]


def test_a_mirrored_answer_is_not_compared_when_the_live_call_failed(plane, fake_caller, recorder) -> None:
    fake_caller.failing["iris-v1"] = UnavailableError("replica died")

    async def scenario() -> None:
        with pytest.raises(VersionFailedError):
            await plane([0.1, 0.05], shadow={"version": "2", "percent": 10}).predict("iris", ROWS)
        await asyncio.sleep(0)

    run(scenario())
    assert ("iris", "2", 200, True, 2) in recorder.records
    assert recorder.agreements == []


@pytest.mark.parametrize(
    ("live", "mirrored", "agreed"),
    [
        ([0, 1, 2], [0, 1, 2], 3),
        ([0, 1, 2], [0, 2, 2], 2),
        ([0.5, 1.0], [0.5 * (1 + 1e-9), 1.1], 1),
        (["setosa", "virginica"], ["setosa"], 1),
        ([[0.1, 0.9]], [[0.1, 0.9]], 1),
    ],
)
def test_agreeing_rows(live, mirrored, agreed) -> None:
    assert agreeing_rows(live, mirrored) == agreed


def test_unknown_model_and_readiness(plane, fake_caller, recorder) -> None:
    data_plane = plane([0.1])
    with pytest.raises(ModelNotServedError, match="^Model 'wine' is not served by this gateway$"):
        run(data_plane.predict("wine", ROWS))
    assert data_plane.ready()
    fake_caller.ready = {"iris-v2"}
    assert not data_plane.ready()
    assert data_plane.version_ready("iris", "2")


def test_apply_swaps_the_whole_policy(plane, fake_caller, recorder) -> None:
    data_plane = plane([0.95, 0.9, 0.95, 0.9])
    assert run(data_plane.predict("iris", ROWS)).version == "2"
    data_plane.apply(
        GatewayConfig.model_validate(
            {"models": {"iris": {"versions": [{"version": "1", "app": "iris-v1", "weight": 100}]}}}
        )
    )
    assert run(data_plane.predict("iris", ROWS)).version == "1"
