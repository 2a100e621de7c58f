"""From runs to verdicts: medians per cell, rayship against the best peer per cell, and the printed table.

A cell is one model at one connection count ("rf@16"). Results are `{server: {cell: combined row}}`, the rows made by
`bench_serving.combine` (medians of requests/s and p99, non-2xx summed). Each metric's best peer is picked on its
own: the highest throughput and the lowest p99 may come from different peers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RAYSHIP = "rayship"
THROUGHPUT_TARGET = 1.0  # rayship / best peer, at least
P99_TARGET = 1.0  # rayship / best peer, at most

Results = dict[str, dict[str, dict]]


def cell(model: str, connections: int) -> str:
    return f"{model}@{connections}"


def cell_label(name: str) -> str:
    model, connections = name.split("@")
    return f"{model.upper()} c={connections}"


@dataclass(frozen=True)
class Ratio:
    cell: str
    metric: str  # "throughput" or "p99"
    rayship: float
    best_peer: str
    peer_value: float
    ratio: float
    met: bool


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator if denominator else math.inf


def throughput_ratio(results: Results, name: str, peers: list[str]) -> Ratio:
    best = max(peers, key=lambda peer: results[peer][name]["requests_per_s"])
    ours, theirs = results[RAYSHIP][name]["requests_per_s"], results[best][name]["requests_per_s"]
    ratio = _ratio(ours, theirs)
    return Ratio(name, "throughput", ours, best, theirs, ratio, ratio >= THROUGHPUT_TARGET)


def p99_ratio(results: Results, name: str, peers: list[str]) -> Ratio:
    # NaN (a p99 wrk did not print) sorts last, so a peer with a number wins the comparison.
    best = min(peers, key=lambda peer: _sortable(results[peer][name]["p99_ms"]))
    ours, theirs = results[RAYSHIP][name]["p99_ms"], results[best][name]["p99_ms"]
    ratio = _ratio(ours, theirs)
    return Ratio(name, "p99", ours, best, theirs, ratio, ratio <= P99_TARGET)


def _sortable(value: float) -> float:
    return math.inf if math.isnan(value) else value


def ratios(results: Results, cells: list[str]) -> list[Ratio]:
    """Both ratios per cell; empty when rayship or every peer is missing (nothing to compare)."""
    peers = [server for server in results if server != RAYSHIP]
    if RAYSHIP not in results or not peers:
        return []
    return [ratio(results, name, peers) for name in cells for ratio in (throughput_ratio, p99_ratio)]


def table(results: Results, cells: list[str]) -> list[str]:
    """One row per server: requests/s and p99 ms per cell, then the non-2xx responses over all its runs."""
    width = 18
    head = f"{'server':<20}" + "".join(f"{cell_label(name):>{width}}" for name in cells) + f"{'non-2xx':>9}"
    units = f"{'':<20}" + f"{'req/s':>9}{'p99 ms':>9}" * len(cells)
    lines = [head, units]
    for server, row in results.items():
        values = "".join(f"{row[name]['requests_per_s']:>9.1f}{row[name]['p99_ms']:>9.2f}" for name in cells)
        errors = sum(row[name].get("non_2xx", 0) for name in cells)
        lines.append(f"{server:<20}{values}{errors:>9}")
    return lines


def ratio_lines(results: Results, cells: list[str]) -> list[str]:
    if RAYSHIP not in results:
        return ["rayship not measured: no ratios against the peers"]
    found = ratios(results, cells)
    if not found:
        return ["no peer measured: no ratios for rayship"]
    lines = [
        f"rayship / best peer: throughput (target >= {THROUGHPUT_TARGET}), p99 (target <= {P99_TARGET})",
    ]
    for one in found:
        unit, digits = ("req/s", 1) if one.metric == "throughput" else ("ms", 2)
        verdict = "met" if one.met else "NOT met"
        lines.append(
            f"  {cell_label(one.cell):<10} {one.metric:<11}{one.ratio:>6.2f}  (rayship {one.rayship:.{digits}f} {unit}"
            f" vs {one.best_peer} {one.peer_value:.{digits}f} {unit})  {verdict}"
        )
    return lines


def non_2xx(results: Results) -> int:
    return sum(row.get("non_2xx", 0) for cells in results.values() for row in cells.values())
