"""Translating a spec's search space into Ray Tune sampling domains."""

from __future__ import annotations

from typing import Any

from ray import tune

from training.spec import Choice, Distribution, LogUniform, RandInt, Uniform


def to_tune_domain(distribution: Distribution) -> Any:
    """One spec distribution as the equivalent `ray.tune` domain."""
    match distribution:
        case Choice(values=values):
            return tune.choice(list(values))
        case LogUniform(low=low, high=high):
            return tune.loguniform(low, high)
        case Uniform(low=low, high=high):
            return tune.uniform(low, high)
        case RandInt(low=low, high=high):
            return tune.randint(low, high)
    raise TypeError(f"unsupported distribution {distribution!r}")


def to_tune_space(search_space: dict[str, Distribution]) -> dict[str, Any]:
    """The whole search space as a Tune `param_space`, keyed by hyper-parameter name."""
    return {name: to_tune_domain(distribution) for name, distribution in search_space.items()}
