"""Issue #13: no database transaction with writes is open while a Slurm or file command
runs — the job paths: create, delete, run from a template, and the worker's sync, where
one job's new state must not be flushed (SQLite's write lock taken) before the commands
another job needs (tests/support/txguard.py watches; Slurm and files faked)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.scheduler import JobState
from portal import db
from portal.services import jobdelete, jobsync, jobtemplates
from portal.services import jobs as jobsvc
from tests.support.txguard import TxGuard
from tests.unit.jobs.conftest import controller_answered


@pytest.fixture
def guard(app, monkeypatch, backend):
    watched = TxGuard(app, monkeypatch).watch(backend.scheduler, backend.files)
    yield watched
    watched.close()


def test_create_and_delete_run_no_command_inside_a_write(member, backend, job_data, guard):
    user = member()
    job = jobsvc.create_job(user, job_data)
    jobdelete.delete_job(user, job.id, backend)
    assert backend.scheduler.jobs[job.slurm_job_id].state is JobState.CANCELLED
    assert {"FakeScheduler.submit", "FakeScheduler.delete"} <= set(guard.calls)
    guard.assert_clean()


def test_a_template_run_runs_no_command_inside_a_write(member, backend, job_data, guard):
    user = member()
    template = jobtemplates.create_template(user, {**job_data, "name": "tpl"})
    job = jobtemplates.run_template(user, template.id, {})
    assert job.slurm_job_id and "FakeScheduler.submit" in guard.calls
    guard.assert_clean()


def test_the_worker_sync_looks_up_a_lost_job_outside_a_write(member, backend, job_data, guard):
    """Job A started (its row changes), job B's answer was lost long ago: the look-up of B
    by its tag (squeue, sacct) must not run while A's change is flushed."""
    user = member()
    first, lost = jobsvc.create_job(user, job_data), jobsvc.create_job(user, job_data)
    backend.scheduler.set_state(first.slurm_job_id, JobState.RUNNING)
    del backend.scheduler.jobs[lost.slurm_job_id]
    hour_ago = db.utcnow() - timedelta(hours=1)
    lost.slurm_job_id, lost.state = None, "submitting"
    lost.created_at = lost.submit_started_at = lost.submit_ended_at = hour_ago
    db.session.commit()
    controller_answered(db.utcnow() - timedelta(minutes=30))
    jobsync.sync_jobs(backend, backend.scheduler.snapshot(), now=db.utcnow())
    assert first.state == "running" and lost.state == "failed"
    assert "FakeScheduler.find_by_comment" in guard.calls
    guard.assert_clean()


def test_schedule_runs_are_submitted_and_cancelled_outside_a_write(
        member, backend, job_data, guard):
    from portal.models import Job
    from portal.services import schedrun, schedules

    user = member()
    template = jobtemplates.create_template(user, {**job_data, "name": "nightly"})
    schedule = schedules.create_schedule(user, {
        "name": "every-minute", "cron": "* * * * *", "timezone": "UTC",
        "template_id": template.id, "mode": "single"})
    first = db.session.query(Job).filter_by(schedule_id=schedule.id, upcoming=True).one()
    backend.scheduler.set_state(first.slurm_job_id, JobState.RUNNING)
    snapshot = backend.scheduler.snapshot()
    jobsync.sync_jobs(backend, snapshot)
    assert schedrun.step(backend, snapshot) == {"submitted": 1}
    schedules.delete_schedule(user, schedule.id, backend)
    assert backend.scheduler.count("sbatch") == 2 and "FakeScheduler.delete" in guard.calls
    guard.assert_clean()
