"""A hung slurmctld: the adapter says UNKNOWN (never "gone"), and recovers by itself.

The controller is frozen with SIGSTOP, which is what an overloaded or wedged slurmctld
looks like to clients (connections accepted, no answers), and is ALWAYS thawed with
SIGCONT in a `finally`. The freeze lasts a few seconds; other tests running meanwhile
only see slower answers, because the runner's 30 s default outlasts it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from adapters.errors import CommandTimeout
from adapters.runner import CommandRunner
from adapters.scheduler import JobState, SlurmScheduler
from tests.support import slurmversion

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]


def slurmctld_pid(sched: SlurmScheduler) -> int:
    """The controller's pid from its pid file, checked against /proc."""
    config = sched.runner.run([sched._bin("scontrol"), "show", "config"]).stdout
    pid_file = next(
        line.split("=", 1)[1].strip()
        for line in config.splitlines()
        if line.split("=", 1)[0].strip() == "SlurmctldPidFile"
    )
    pid = int(slurmversion.daemon_path(pid_file).read_text().split()[0])
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"slurmctld" in cmdline, f"pid {pid} from {pid_file} is not slurmctld"
    return pid


def test_frozen_controller_gives_unknown_then_recovers(sched, submit, wait_until):
    job_id = submit(hold=True)
    assert sched.status(job_id) is JobState.QUEUED_HELD
    impatient = SlurmScheduler(runner=CommandRunner(timeout=3))
    pid = slurmctld_pid(sched)
    os.kill(pid, signal.SIGSTOP)
    try:
        assert impatient.status(job_id) is JobState.UNKNOWN
        with pytest.raises(CommandTimeout):
            impatient.info_all(job_ids=[job_id])
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(
        lambda: impatient.status(job_id) is JobState.QUEUED_HELD,
        "the controller to answer again",
        limit=30,
    )
