"""Fixtures for the Slurm adapter against the real dev cluster.

On CI the dev cluster is always up, so a cluster that does not answer FAILS these tests
(with a hint), it never skips them. Every job gets a unique name and comment, and is
cancelled afterwards, so the tests run concurrently with others (pytest-xdist) and never
assume an empty queue.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from adapters.errors import AdapterError
from adapters.runner import CommandRunner
from adapters.scheduler import JobSpec, SlurmScheduler

USER, ACCOUNT, OTHER_ACCOUNT = "alice", "proja", "projb"


@pytest.fixture(scope="session")
def slurm_up() -> None:
    try:
        CommandRunner(timeout=20).run(["sinfo", "--noheader"])
    except AdapterError as exc:
        pytest.fail(
            f"the dev cluster does not answer ({exc.message}); "
            "start it with: sudo etc/devcluster/cluster.sh start",
            pytrace=False,
        )


@pytest.fixture
def sched(slurm_up) -> SlurmScheduler:
    return SlurmScheduler(runner=CommandRunner(timeout=30))


@pytest.fixture
def unique() -> str:
    return f"it-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def submit(sched, unique):
    """submit(**spec) as alice into proja; every job is cancelled after the test."""
    submitted: list[str] = []

    def _submit(script: str = "#!/bin/sh\nsleep 60\n", **fields) -> str:
        fields.setdefault("job_name", unique)
        fields.setdefault("account", ACCOUNT)
        fields.setdefault("time", 2)  # lets backfill run it beside long jobs
        job_id = sched.submit(JobSpec(script=script, **fields), as_user=USER)
        submitted.append(job_id)
        return job_id

    yield _submit
    if submitted:  # as the operator, so a test's own failure cannot leave jobs behind
        sched.runner.run([sched._bin("scancel"), *submitted], check=False)


def _wait_until(probe: Callable[[], object], what: str, limit: float = 60.0):
    """Poll `probe` every 0.2 s until it returns something truthy; fail after `limit` s."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out after {limit:g}s waiting for {what} (last: {last!r})")


@pytest.fixture
def wait_until():
    """wait_until(probe, what, limit=60): event-driven polling instead of fixed sleeps."""
    return _wait_until
