"""Reading PromQL in tests: Grafana's variables substituted, and every series selector of an expression."""

from __future__ import annotations

import promql_parser

# What Grafana would put in for its variables: one model, every version.
VARIABLES = {"$__rate_interval": "1m", "$model": "iris", "$version": ".*", "$statistic": "psi"}


def substitute(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """Every series selector of an expression, the ones inside range selectors included."""
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(
        promql_parser.parse(substitute(expr)),
        lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None,
    )
    return found


def matchers(selector: promql_parser.VectorSelector) -> dict[str, str]:
    return {matcher.name: matcher.value for matcher in selector.matchers.matchers}


def series_name(selector: promql_parser.VectorSelector) -> str | None:
    return selector.name or matchers(selector).get("__name__")
