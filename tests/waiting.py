"""What the tests against a live host share: a condition polled until it holds, within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable

TIMEOUT = 15.0


def wait_until(condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
    """Poll `condition` every 10 ms until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
