"""Hypothesis settings for the property tests: the same examples on every run.

Derandomized and without an example database, a property test tries the same
inputs on a laptop and in CI, so a failure reproduces and a green run is not
luck; ``too_slow`` is suppressed because CI shares two cores with the real parts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def deterministic(max_examples: int, *suppress: HealthCheck) -> settings:
    """``max_examples`` fixed examples, no deadline; ``suppress`` adds health checks to skip."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, *suppress],
    )
