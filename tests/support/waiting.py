"""One way for tests and benches to wait for an event: poll a predicate with a deadline.

Tests never sleep a fixed time (DEVELOPERS rule); every wait in them names what it waits
for, so a timeout says which event did not come.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, step: float = 0.3,
             what: str = "condition") -> T:
    """Call `predicate` every `step` s until it returns something truthy, and return that;
    fail the test after `timeout` s, naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(step)
