from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI machines have 2 cores shared with a Rust build cache; wall-clock deadlines
# would make property tests flaky without testing anything about iron-cage.
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
