"""The worker's job-state step: cached states, events with node, exit code and reason."""

from datetime import timedelta

from adapters.scheduler import JobState
from portal import db
from portal.services import jobs as jobsvc
from portal.services import jobsync
from tests.unit.jobs.conftest import controller_answered


def test_states_and_events_follow_slurm(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    fake = backend.scheduler
    fake.set_state(job.slurm_job_id, JobState.QUEUED_HELD, reason="JobHeldUser")
    jobsync.sync_jobs(backend, fake.snapshot())
    assert job.state == "held"
    fake.set_state(job.slurm_job_id, JobState.RUNNING, node="gpu07")
    jobsync.sync_jobs(backend, fake.snapshot())
    assert (job.state, job.nodes) == ("running", "gpu07") and job.started_at
    fake.set_state(job.slurm_job_id, JobState.FAILED, exit_code=3, reason="NonZeroExitCode")
    jobsync.sync_jobs(backend, fake.snapshot())
    assert (job.state, job.exit_code, job.reason) == ("failed", 3, "NonZeroExitCode")
    assert [e.kind for e in job.events] == ["submitted", "held", "started", "failed"]
    assert job.events[-1].details == {"exit_code": 3, "signal": 0, "reason": "NonZeroExitCode"}
    fake.calls.clear()
    assert jobsync.sync_jobs(backend, fake.snapshot()) == {} and fake.calls == []


def test_ended_jobs_take_their_exit_code_from_sacct(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    fake = backend.scheduler
    fake.set_state(job.slurm_job_id, JobState.COMPLETED, exit_code=0)
    jobsync.sync_jobs(backend, [])  # already gone from squeue
    assert (job.state, job.exit_code) == ("completed", 0)
    assert fake.count("sacct") == 1
    assert job.events[-1].details["exit_code"] == 0


def test_unknown_is_not_gone_and_lost_only_after_a_while(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    assert jobsync.sync_jobs(backend, None) == {}
    del backend.scheduler.jobs[job.slurm_job_id]
    jobsync.sync_jobs(backend, [])
    assert job.state == "pending"
    jobsync.sync_jobs(backend, [], now=db.utcnow() + timedelta(minutes=11))
    assert job.state == "lost"


def test_a_submission_whose_answer_was_lost_is_adopted_by_its_tag(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    job.slurm_job_id, job.state = None, "submitting"
    db.session.commit()
    jobsync.sync_jobs(backend, backend.scheduler.snapshot())
    assert job.slurm_job_id == "1000" and job.state == "pending"
    assert backend.scheduler.count("sbatch") == 1


def test_an_unanswered_submission_is_never_resubmitted_and_fails_once_slurm_settled(
        member, backend, job_data):
    """Issue #13: no second sbatch for one job; "never reached Slurm" only after the
    controller has answered for SUBMIT_SETTLE_SECONDS and squeue + sacct lack the tag."""
    job = jobsvc.create_job(member(), job_data)
    backend.scheduler.jobs.clear()
    job.slurm_job_id, job.state, job.submit_ended_at = None, "submitting", db.utcnow()
    db.session.commit()
    later = db.utcnow() + timedelta(minutes=30)
    jobsync.sync_jobs(backend, [], now=later)
    assert job.state == "submitting"  # no answer from the controller since: it may come
    controller_answered()
    jobsync.sync_jobs(backend, [], now=db.utcnow() + timedelta(seconds=20))
    assert job.state == "submitting"  # awake, but not for long enough
    jobsync.sync_jobs(backend, [], now=db.utcnow() + timedelta(seconds=90))
    assert job.state == "failed" and "never reached Slurm" in job.error
    assert [e.kind for e in job.events][-1] == "not_submitted"
    assert backend.scheduler.count("sbatch") == 1


def test_a_late_answer_is_adopted_not_doubled(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    slurm_id = job.slurm_job_id
    job.slurm_job_id, job.state, job.submit_ended_at = None, "submitting", db.utcnow()
    db.session.commit()
    jobsync.sync_jobs(backend, backend.scheduler.snapshot())  # the queued request surfaced
    assert (job.slurm_job_id, job.state, job.submit_ended_at) == (slurm_id, "pending", None)
    assert backend.scheduler.count("sbatch") == 1
