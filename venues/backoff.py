"""Reconnect and retry delays for clients of outside services: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the capped exponential delay) keeps many
processes that lost the same upstream (a venue, a data provider, a delivery service) from reconnecting in lock-step.
"""

import random


def reconnect_delay(attempt: int, *, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnect `attempt` (1 for the first retry)."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(0, ceiling)
