"""Issue #13: no database transaction with writes is open while a Slurm or file command
runs — the session paths: create (also one held for approval), delete, and the worker's
sync, where one session's new state must not be flushed before the commands the next one
needs (tests/support/txguard.py watches; Slurm and files faked)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.scheduler import JobState
from portal import db
from portal.models import Project
from portal.services import sessions as svc
from portal.services import sessionsync
from tests.support.txguard import TxGuard
from tests.unit.sessions.sessionfakes import session_data


@pytest.fixture
def guard(app, monkeypatch, backend):
    watched = TxGuard(app, monkeypatch).watch(backend.scheduler, backend.files)
    yield watched
    watched.close()


def test_create_and_delete_run_no_command_inside_a_write(world, guard):
    session = svc.create_session(world["ursula"], session_data())
    svc.delete_session(world["ursula"], session.id)
    assert {"FakeScheduler.submit", "FakeScheduler.delete"} <= set(guard.calls)
    guard.assert_clean()


def test_a_held_create_runs_no_command_inside_a_write(world, guard):
    project = db.session.query(Project).filter_by(account="proja").one()
    project.approval_threshold = 0
    db.session.commit()
    svc.create_session(world["ursula"], session_data(gpu_model="a100", gpu_count="1"))
    assert "FakeScheduler.submit" in guard.calls
    guard.assert_clean()


def test_the_worker_sync_runs_commands_outside_a_write(world, guard):
    """Session A starts running (its row changes, its connection file is read), then
    session B is past its end time (scancel): no command while A's change is flushed."""
    backend = world["backend"]
    first = svc.create_session(world["ursula"], session_data())
    second = svc.create_session(world["ursula"], session_data())
    for session in (first, second):
        backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    second.end_at = db.utcnow() - timedelta(minutes=1)
    db.session.commit()
    sessionsync.sync_sessions(backend, backend.scheduler.snapshot())
    assert first.state == "starting" and second.state == "deleting"
    assert "FakeScheduler.delete" in guard.calls
    guard.assert_clean()
