"""The router harness: each router over its fake backend, for the contract both routers share."""

from __future__ import annotations

import pytest

from tests.unit.rollout.serve_fakes import HARNESSES, RayServiceHarness, RestHarness


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> RestHarness | RayServiceHarness:
    return HARNESSES[request.param]()
