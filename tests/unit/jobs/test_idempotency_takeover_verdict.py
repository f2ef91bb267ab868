"""Issue #13: what becomes of a job whose creating process was killed, once the client's
retry has taken its Idempotency-Key over (portal/services/submission.py owner_gone,
tracked.look_up_now), and
of one whose Slurm job already finished when the worker looks (sacct by tag at the next
cycle, not after SUBMIT_INFLIGHT_SECONDS + SETTLE). Slurm faked; the claims' processes are
real processes of this machine (tests/unit/jobs/test_idempotency_dead_owner.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.scheduler import JobSpec, JobState
from portal import db
from portal.models import Job
from portal.services import jobs as jobsvc
from portal.services import jobsync, submission
from tests.support.killedcreate import as_killed_mid_create, key_headers
from tests.unit.jobs.conftest import controller_answered
from tests.unit.jobs.test_idempotency_dead_owner import BODY, _claim, _dead_process


@pytest.fixture
def headers(app, outside_member, backend):
    user = outside_member("ursula")
    return key_headers(app, user, "killed-1")


def _interrupted(app, backend, job_id: int, *, attempt_started: bool) -> str:
    """Make the job look as its killed create left it: recorded "submitting" without a
    Slurm id and no recorded end (Slurm forgets the fake's job). Returns its tag."""
    with app.app_context():
        job = db.session.get(Job, job_id)
        as_killed_mid_create(job, attempt_started=attempt_started)
        tag = jobsvc.tag_of(job)
        db.session.commit()
    backend.scheduler.jobs.clear()
    return tag


def _sync(app, backend, at) -> Job:
    """One worker cycle at `at` with an empty queue; the job as it then is."""
    with app.app_context():
        jobsync.sync_jobs(backend, [], now=at)
        job = db.session.query(Job).one()
        db.session.expunge(job)
        return job


def test_killed_before_its_sbatch_started_the_job_fails_at_the_retry(
        app, client, headers, backend):
    """No `submit_started_at`: the process died while the job was planned, so no sbatch
    ran and none will. The retry that takes the key over answers the job as failed.
    Before: "submitting" for SUBMIT_INFLIGHT_SECONDS + SETTLE."""
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    _interrupted(app, backend, first["id"], attempt_started=False)
    _claim(app, _dead_process())
    with app.app_context():
        now = db.utcnow()
    assert _sync(app, backend, now).state == "submitting"  # no retry yet: the time rule
    retry = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert retry.status_code == 200 and retry.get_json()["id"] == first["id"]
    assert retry.get_json()["state"] == "failed"
    job = _sync(app, backend, now + timedelta(seconds=2))
    assert job.state == "failed" and "never reached Slurm" in job.error
    assert backend.scheduler.count("sbatch") == 1 and backend.scheduler.jobs == {}
    again = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    assert again["state"] == "failed" and "never reached Slurm" in again["error"]


def test_killed_inside_its_attempt_the_job_is_settled_after_the_command_timeout(
        app, client, headers, backend):
    """`submit_started_at` set: an orphaned sbatch may still get through, until the
    attempt's own timeout; the job fails SETTLE after that unless Slurm shows its tag."""
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    _interrupted(app, backend, first["id"], attempt_started=True)
    _claim(app, _dead_process())
    retry = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert retry.status_code == 200 and retry.get_json()["state"] == "submitting"
    with app.app_context():
        job = db.session.get(Job, first["id"])
        ended = job.submit_ended_at
        assert ended >= job.submit_started_at + submission.command_timeout()
        assert ended < job.submit_started_at + submission.inflight()
        controller_answered(at=ended)
    assert _sync(app, backend, ended + submission.settle() / 2).state == "submitting"
    job = _sync(app, backend, ended + submission.settle() + timedelta(seconds=1))
    assert job.state == "failed" and "never reached Slurm" in job.error
    assert backend.scheduler.count("sbatch") == 1


def test_a_finished_job_that_only_sacct_knows_is_adopted_at_the_next_cycle(
        app, client, headers, backend, monkeypatch):
    """The killed create's orphaned sbatch got through and the job already ended: squeue
    no longer has it, sacct does. Adopted at once, with how it ended — not after
    SUBMIT_INFLIGHT_SECONDS + SETTLE, and never submitted again."""
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    tag = _interrupted(app, backend, first["id"], attempt_started=True)
    fake = backend.scheduler
    slurm_id = fake.submit(JobSpec(script="#!/bin/sh\n", job_name="x", account="proja",
                                   comment=tag), as_user="ursula")
    fake.set_state(slurm_id, JobState.COMPLETED, exit_code=0)
    monkeypatch.setattr(fake, "find_by_comment", lambda *_a, **_k: None)  # left squeue
    with app.app_context():
        now = db.utcnow()
    job = _sync(app, backend, now + timedelta(seconds=2))  # no retry, nothing settled
    assert (job.slurm_job_id, job.state, job.exit_code) == (slurm_id, "completed", 0)
    assert fake.count("sbatch") == 2  # the first create's and the orphan's; none since
    assert [j.id for j in fake.jobs.values() if j.comment == tag] == [slurm_id]
