"""Helpers of the F6–F8 integration tests (fixtures are in conftest.py next to this)."""

from __future__ import annotations

import threading

from portal import db, worker
from tests.support import waiting
from tests.support.members import add_member  # noqa: F401 - the tests import it here


def ours(scheduler, prefix: str, pending_only: bool = False):
    jobs = [j for j in scheduler.info_all() if (j.name or "").startswith(prefix)]
    if pending_only:
        jobs = [j for j in jobs if j.state.value in ("queued", "queued_held")]
    return jobs


def cycle(app) -> dict:
    """One worker cycle, in its own thread (its own DB session, as the worker process has);
    then this thread's session starts a fresh transaction to see what it wrote."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(worker.run_cycle(app)))
    thread.start()
    thread.join(timeout=120)
    db.session.rollback()
    db.session.expire_all()  # sessions do not expire on commit: reload what the worker wrote
    return result


def wait_for(predicate, timeout: float, step: float = 1.0, cycle_app=None, what="condition"):
    """Poll `predicate` (running a worker cycle first, if `cycle_app`) until it is true."""
    def probe():
        if cycle_app is not None:
            cycle(cycle_app)
        return predicate()

    return waiting.wait_for(probe, timeout, step, what)
