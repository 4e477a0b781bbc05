"""How many examples each fuzz target runs: a small budget in CI, a larger one on demand.

`HUB_FUZZ_EXAMPLES=N` gives every fuzz target N examples (hypothesis's `max_examples`) instead of
its CI budget. A long run also needs pytest's per-test timeout lifted (`-o timeout=0`);
tests/fuzz/README.md has the command and the figures of the last long run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

VARIABLE = "HUB_FUZZ_EXAMPLES"


def examples(ci_budget: int) -> int:
    """The number of examples to run: $HUB_FUZZ_EXAMPLES if set, else the CI budget."""
    text = os.environ.get(VARIABLE, "").strip()
    if not text:
        return ci_budget
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{VARIABLE} must be a whole number of examples, 1 or more: {text!r}")
    return int(text)


def fuzz_settings(ci_budget: int) -> settings:
    """Settings for one fuzz target: no deadline (a live server answers, its time varies with
    the machine's load), and the live-server fixture is shared on purpose."""
    return settings(
        max_examples=examples(ci_budget),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
