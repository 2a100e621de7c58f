"""Recording what each version served: the in-process counters behind the stats endpoint.

`MetricsRecorder` is what the data plane calls; `CounterStore` keeps cumulative `VersionStats` per
(model, version) in memory; the gateway adds a Prometheus exporter next to it (`deployments/gateway/prometheus.py`).
Requests a client pinned to a version are counted apart as well (`pinned_requests`, `pinned_errors`): an outside
caller chooses them, so a rollout must not judge a version by them.
"""

from __future__ import annotations

from typing import Protocol

from deployments.stats import VersionStats


class MetricsRecorder(Protocol):
    def record(
        self,
        model: str,
        version: str,
        status_code: int,
        latency_s: float | None,
        batch_size: int | None,
        *,
        pinned: bool,
    ) -> None:
        """One request to one version ended with `status_code`; latency and batch size are known on success;
        `pinned` when the client asked for this version rather than the traffic policy choosing it."""

    def record_agreement(self, model: str, version: str, compared_rows: int, agreed_rows: int) -> None:
        """A mirrored request's answer from `version` was compared row by row with the live answer."""


class CounterStore:
    """Cumulative counters per (model, version), snapshotted by value."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str], VersionStats] = {}

    def record(
        self,
        model: str,
        version: str,
        status_code: int,
        latency_s: float | None,
        batch_size: int | None,
        *,
        pinned: bool,
    ) -> None:
        stats = self._of(model, version)
        stats.requests += 1
        _count_failure(stats.errors, status_code)
        if pinned:
            stats.pinned_requests += 1
            _count_failure(stats.pinned_errors, status_code)
        if latency_s is not None:
            stats.latency_ms.observe(latency_s * 1000.0)
        if batch_size is not None:
            stats.batch_size.observe(batch_size)

    def record_agreement(self, model: str, version: str, compared_rows: int, agreed_rows: int) -> None:
        stats = self._of(model, version)
        stats.shadow_rows_compared += compared_rows
        stats.shadow_rows_agreed += agreed_rows

    def _of(self, model: str, version: str) -> VersionStats:
        stats = self._stats.get((model, version))
        if stats is None:
            stats = self._stats[(model, version)] = VersionStats()
        return stats

    def snapshot(self) -> dict[str, dict[str, dict]]:
        """`{model: {version: VersionStats as JSON-ready dict}}`, a deep copy safe to send elsewhere."""
        out: dict[str, dict[str, dict]] = {}
        for (model, version), stats in self._stats.items():
            out.setdefault(model, {})[version] = stats.model_dump()
        return out


def _count_failure(errors: dict[str, int], status_code: int) -> None:
    if status_code >= 400:
        code = str(status_code)
        errors[code] = errors.get(code, 0) + 1


class FanOutRecorder:
    """Records into several recorders (the counter store and Prometheus)."""

    def __init__(self, *recorders: MetricsRecorder) -> None:
        self._recorders = recorders

    def record(
        self,
        model: str,
        version: str,
        status_code: int,
        latency_s: float | None,
        batch_size: int | None,
        *,
        pinned: bool,
    ) -> None:
        for recorder in self._recorders:
            recorder.record(model, version, status_code, latency_s, batch_size, pinned=pinned)

    def record_agreement(self, model: str, version: str, compared_rows: int, agreed_rows: int) -> None:
        for recorder in self._recorders:
            recorder.record_agreement(model, version, compared_rows, agreed_rows)
