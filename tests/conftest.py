"""Test settings shared by the whole suite."""

import os

from hypothesis import HealthCheck, settings

# Hypothesis' per-example deadline is a timing assertion; speed is measured in
# benchmarks/, not here. CI runs more examples than a quick local run.
settings.register_profile("dev", deadline=None, max_examples=200)
settings.register_profile(
    "ci", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
