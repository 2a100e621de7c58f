"""`python -m monitoring status|report` against a gateway answered by `httpx.MockTransport`: the routes and the
cluster token they send, what they print, and the error a refusing gateway gives."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pandas as pd
import pytest

from monitoring import cli
from monitoring.monitor import Monitor, MonitorPush, profile_digest
from monitoring.profile import build_profile
from monitoring.sketch import Sketch
from monitoring.spec import MonitorSpec, WindowSpec

pytestmark = pytest.mark.unit

NOW = 1_796_182_500.0  # 2026-12-02 03:35:00 UTC
GATEWAY = "http://gateway.test:8000"
TOKEN = "cluster-token"
MISSING_TOKEN = "Missing admin token: send 'Authorization: Bearer <Ray cluster token>'"
RNG = np.random.default_rng(3)
REFERENCE = pd.DataFrame({"a": RNG.normal(0, 1, 1000), "b": RNG.normal(5, 1, 1000)})
PROFILE = build_profile(REFERENCE, source="t", predictions=(REFERENCE["a"] > 0).to_numpy().astype(int), classes=[0, 1])
SPEC = MonitorSpec(model="iris", min_rows=100, window=WindowSpec(rows=1000, seconds=60, bucket_s=5))


def iris_monitor() -> Monitor:
    """Version 1 drifted on 'a', version 2 without a profile."""
    monitor, sketch = Monitor(started_at=NOW - 100), Sketch(PROFILE)

    def push(version: str, with_profile: bool) -> MonitorPush:
        profiled = version == "1"
        return MonitorPush(
            model="iris",
            version=version,
            replica=f"r{version}",
            replica_started_at=NOW - 90,
            profile_digest=profile_digest(PROFILE) if profiled else None,
            profile=PROFILE if with_profile and profiled else None,
            spec=SPEC,
            counts=sketch.snapshot() if profiled else None,
        )

    monitor.ingest(push("1", with_profile=True), now_s=NOW - 30)
    values = np.column_stack([RNG.normal(2.0, 1, 300), RNG.normal(5, 1, 300)])
    sketch.observe(values, (values[:, 0] > 0).astype(int), None)
    monitor.ingest(push("1", with_profile=False), now_s=NOW - 5)
    monitor.ingest(push("2", with_profile=False), now_s=NOW - 5)
    return monitor


class Gateway:
    """The gateway's admin routes, answered from a real monitor; every request is kept."""

    def __init__(self, status: int = 200, error: str = "") -> None:
        self.monitor = iris_monitor()
        self.status, self.error = status, error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": self.error})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": MISSING_TOKEN})
        model = request.url.params.get("model")
        if request.url.path == "/-/rayship/monitoring":
            return httpx.Response(200, json=self.monitor.status(model, NOW).model_dump(mode="json"))
        if request.url.path == "/-/rayship/monitoring/detail":
            details = self.monitor.detail(model, NOW)
            return httpx.Response(200, json={v: detail.model_dump(mode="json") for v, detail in details.items()})
        if request.url.path == "/-/rayship/policy":
            return httpx.Response(200, json={"policy": {"models": {"iris": {"versions": [{"version": 1}]}}}})
        return httpx.Response(404, json={"error": "no such route"})


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Installs a `Gateway` behind `httpx.get`; the token comes from the file `RAY_AUTH_TOKEN_PATH` names."""

    def install(answer: Gateway, token: str | None = TOKEN) -> Gateway:
        client = httpx.Client(transport=httpx.MockTransport(answer))
        monkeypatch.setattr(httpx, "get", client.get)
        monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.ray/auth_token to fall back on
        token_file = tmp_path / "auth_token"
        if token is not None:
            token_file.write_text(f"{token}\n")
        monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token_file))
        monkeypatch.setenv("COLUMNS", "200")
        return answer

    return install


def test_report_reads_both_routes_with_the_token_and_prints_the_two_paths(gateway, tmp_path, monkeypatch, capsys):
    answer = gateway(Gateway())
    monkeypatch.setattr(cli, "time", SimpleNamespace(time=lambda: NOW))
    out_dir = tmp_path / "reports"

    code = cli.main(["report", "--model", "iris", "--out", str(out_dir), "--serve-url", GATEWAY + "/"])

    markdown, plot = out_dir / "monitoring-iris-20261202T033500Z.md", out_dir / "monitoring-iris-20261202T033500Z.png"
    assert code == cli.EXIT_OK
    assert capsys.readouterr().out == f"{markdown}\n{plot}\n"
    assert [(r.url.path, r.url.params["model"]) for r in answer.requests] == [
        ("/-/rayship/monitoring", "iris"),
        ("/-/rayship/monitoring/detail", "iris"),
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in answer.requests)
    lines = markdown.read_text().split("\n")
    assert lines[0] == "# Monitoring report: iris, 2026-12-02 03:35:00 UTC"
    assert "| verdict | drift |" in lines and "| verdict | no reference profile |" in lines
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and plot.stat().st_size > 10_000


def test_report_writes_to_rayship_reports_by_default(gateway, tmp_path, monkeypatch, capsys):
    gateway(Gateway())
    monkeypatch.setattr(cli, "time", SimpleNamespace(time=lambda: NOW))
    monkeypatch.chdir(tmp_path)

    assert cli.main(["report", "--model", "iris", "--serve-url", GATEWAY]) == cli.EXIT_OK

    printed = capsys.readouterr().out.split()
    assert printed == [
        ".rayship/reports/monitoring-iris-20261202T033500Z.md",
        ".rayship/reports/monitoring-iris-20261202T033500Z.png",
    ]
    assert all((tmp_path / path).is_file() for path in printed)


def test_a_gateway_refusing_the_token_is_an_error_naming_the_route(gateway, tmp_path, capsys):
    gateway(Gateway(), token=None)

    code = cli.main(["report", "--model", "iris", "--out", str(tmp_path / "r"), "--serve-url", GATEWAY])

    assert code == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.err == f"error: Cannot read {GATEWAY}/-/rayship/monitoring: HTTP 401: {MISSING_TOKEN}\n"
    assert captured.out == "" and not (tmp_path / "r").exists()


def test_status_gives_the_same_401_error(gateway, capsys):
    gateway(Gateway(status=401, error=MISSING_TOKEN))

    assert cli.main(["status", "--model", "iris", "--serve-url", GATEWAY]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == f"error: Cannot read {GATEWAY}/-/rayship/monitoring: HTTP 401: {MISSING_TOKEN}\n"


def test_an_unreachable_gateway_is_an_error(monkeypatch, tmp_path, capsys):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(httpx, "get", httpx.Client(transport=httpx.MockTransport(refuse)).get)

    assert cli.main(["report", "--model", "iris", "--out", str(tmp_path), "--serve-url", GATEWAY]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"error: Cannot read {GATEWAY}/-/rayship/monitoring: ConnectError: connection refused\n"
    )


def test_an_unwritable_report_directory_is_an_error(gateway, tmp_path, capsys):
    gateway(Gateway())
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    assert cli.main(["report", "--model", "iris", "--out", str(blocker / "r"), "--serve-url", GATEWAY]) == 1
    assert capsys.readouterr().err.startswith(f"error: Cannot write the report to {blocker / 'r'}: ")


def test_status_prints_a_table_per_version_and_the_served_ones(gateway, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # a registry without the model
    answer = gateway(Gateway())

    assert cli.main(["status", "--model", "iris", "--serve-url", GATEWAY]) == cli.EXIT_OK

    out = capsys.readouterr().out
    assert out.startswith("iris: window 1000 rows / 60 s, scored from 100 rows; feature drift psi > 0.25")
    assert "version 1: drift (300 rows in window, 1 replicas)" in out
    assert "version 2: no reference profile (0 rows in window," in out  # the title wraps to its empty table
    assert out.rstrip().endswith("iris: no retraining cycle yet")
    assert [r.url.path for r in answer.requests] == ["/-/rayship/monitoring", "/-/rayship/policy"]


def test_status_json_prints_the_monitors_answer(gateway, capsys):
    answer = gateway(Gateway())

    assert cli.main(["status", "--model", "iris", "--json", "--serve-url", GATEWAY]) == cli.EXIT_OK

    printed = json.loads(capsys.readouterr().out)
    assert printed == answer.monitor.status("iris", NOW).model_dump(mode="json")
    assert printed["versions"]["1"]["drift"]["verdict"] == "drift"
