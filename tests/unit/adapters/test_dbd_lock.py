"""The host-wide lock around sacctmgr changes (adapters/dbdlock.py): a second change waits
for the first, also from another process, and one that waits too long says what for."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from adapters import dbdlock
from adapters.accounts import SlurmAccounts
from adapters.errors import CommandTimeout
from adapters.runner import CommandResult


@pytest.fixture
def lock_path(tmp_path):
    before = dbdlock.lock_file()
    path = tmp_path / "state" / "slurmdbd-changes.lock"
    dbdlock.use(path)
    yield path
    dbdlock.use(before)


class RecordingRunner:
    """Notes, for each sacctmgr call, whether another one was running at the same time."""

    def __init__(self, gate: threading.Event):
        self.gate, self.running, self.overlaps, self.calls = gate, 0, 0, 0
        self.mutex = threading.Lock()

    def run(self, argv, as_user=None, check=True, **_):
        with self.mutex:
            self.running += 1
            self.calls += 1
            self.overlaps += self.running > 1
        self.gate.wait(5)  # the first call holds on until every thread has started
        with self.mutex:
            self.running -= 1
        return CommandResult(list(argv), 0, "", "")


def test_parallel_changes_from_threads_run_one_after_another(lock_path):
    gate = threading.Event()
    runner = RecordingRunner(gate)
    accounts = SlurmAccounts(runner=runner)
    threads = [threading.Thread(target=accounts.add_user, args=(f"u{i}", "proja"))
               for i in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert runner.calls == 4 and runner.overlaps == 0
    assert lock_path.exists() and oct(lock_path.stat().st_mode & 0o777) == "0o600"
    assert oct(lock_path.parent.stat().st_mode & 0o777) == "0o700"


def _hold(path: str, held: multiprocessing.Event, release: multiprocessing.Event) -> None:
    dbdlock.use(path)
    with dbdlock.one_change_at_a_time(["sacctmgr", "add", "account", "x"]):
        held.set()
        release.wait(10)


def test_a_change_waits_for_another_process_and_gives_up_in_words(lock_path):
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(lock_path), held, release))
    holder.start()
    try:
        assert held.wait(30), "the other process never took the lock"
        with pytest.raises(CommandTimeout) as caught:
            with dbdlock.one_change_at_a_time(["sacctmgr", "add", "user", "bob"], wait=0.3):
                pytest.fail("the lock was taken while another process held it")
        assert "another change to Slurm's accounts did not finish within 0.3s" in str(
            caught.value.message)
        release.set()
        holder.join(10)
        with dbdlock.one_change_at_a_time(["sacctmgr", "add", "user", "bob"], wait=5):
            pass  # free again once the holder is done
    finally:
        release.set()
        holder.join(10)
        if holder.is_alive():
            holder.kill()


def test_without_a_lock_file_nothing_is_locked():
    before = dbdlock.lock_file()
    dbdlock.use(None)
    try:
        with dbdlock.one_change_at_a_time(["sacctmgr", "add", "user", "bob"]):
            pass
    finally:
        dbdlock.use(before)
