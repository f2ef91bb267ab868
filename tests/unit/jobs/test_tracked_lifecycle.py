"""The tracked-job lifecycle (portal/services/tracked.py) through a batch job: a lost sbatch
answer is adopted by its tag, nothing is ever submitted twice, and every way Slurm ends a
job (NODE_FAIL and PREEMPTED included) becomes the job's state. Slurm is the one fake
(tests/support/fakescheduler.py), which, like Slurm, may create a job whose answer is lost.
"""

from datetime import timedelta

import pytest

from adapters.errors import CommandTimeout
from adapters.scheduler import JobState
from portal import db
from portal.services import jobs as jobsvc
from portal.services import jobsync, tracked
from tests.unit.jobs.conftest import controller_answered

TIMEOUT = CommandTimeout("sbatch ran past its timeout", ["sbatch"])


def test_a_lost_answer_is_adopted_by_its_tag_and_never_submitted_again(
        member, backend, job_data):
    fake = backend.scheduler
    fake.lose_answer = TIMEOUT  # Slurm made the job; the portal never heard its id
    job = jobsvc.create_job(member(), job_data)
    fake.lose_answer = None
    assert (job.state, job.slurm_job_id) == ("submitting", None)
    assert tracked.uncertain(job) and "timeout" in job.error
    made = fake.tagged(jobsvc.tag_of(job))
    assert len(made) == 1
    for _ in range(2):  # adopted at the first cycle; the second changes nothing
        jobsync.sync_jobs(backend, fake.snapshot())
    assert (job.slurm_job_id, job.state, job.error) == (made[0].id, "pending", None)
    assert [e.kind for e in job.events] == ["submit_uncertain", "submitted"]
    assert job.events[-1].details == {"slurm_job_id": made[0].id, "adopted": True}
    assert fake.count("sbatch") == 1 and len(fake.tagged(jobsvc.tag_of(job))) == 1


def test_an_api_retry_adopts_at_once_through_look_up_now(member, backend, job_data):
    fake = backend.scheduler
    fake.lose_answer = TIMEOUT
    job = jobsvc.create_job(member(), job_data)
    fake.lose_answer = None
    assert jobsync.look_up_now(job, backend) is True
    assert job.state == "pending" and job.slurm_job_id == fake.tagged(jobsvc.tag_of(job))[0].id
    assert jobsync.look_up_now(job, backend) is False  # nothing left to adopt
    assert fake.count("sbatch") == 1


def test_a_request_slurm_never_got_is_not_resubmitted_only_given_up_once_settled(
        member, backend, job_data):
    fake = backend.scheduler
    fake.fail_submit = TIMEOUT  # sbatch ran, Slurm made nothing
    job = jobsvc.create_job(member(), job_data)
    fake.fail_submit = None
    assert job.state == "submitting" and fake.jobs == {}
    jobsync.sync_jobs(backend, [], now=db.utcnow() + timedelta(minutes=30))
    assert job.state == "submitting"  # the controller has not answered since: it may come
    controller_answered()
    jobsync.sync_jobs(backend, [], now=db.utcnow() + timedelta(seconds=90))
    assert job.state == "failed" and "never reached Slurm" in job.error
    assert fake.count("sbatch") == 1 and fake.jobs == {}


def test_verdict_waits_while_slurm_cannot_be_asked(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    job.slurm_job_id, job.state = None, "submitting"
    db.session.commit()

    def down(*_args, **_kwargs):
        raise CommandTimeout("squeue ran past its timeout", ["squeue"])

    backend.scheduler.find_by_comment = down
    assert tracked.verdict(job, jobsvc.tag_of(job), None, backend, db.utcnow(),
                           settled=True) == ("wait", None)


@pytest.mark.parametrize("state", [JobState.NODE_FAIL, JobState.PREEMPTED, JobState.TIMEOUT,
                                   JobState.CANCELLED, JobState.COMPLETED, JobState.FAILED])
def test_how_slurm_ended_a_job_is_its_state(member, backend, job_data, state):
    job = jobsvc.create_job(member(), job_data)
    fake = backend.scheduler
    fake.set_state(job.slurm_job_id, JobState.RUNNING, node="gpu03")
    jobsync.sync_jobs(backend, fake.snapshot())
    fake.set_state(job.slurm_job_id, state, node="gpu03", exit_code=1)
    jobsync.sync_jobs(backend, [])  # gone from squeue: sacct says how it ended
    assert job.state == state.value and job.state in jobsvc.TERMINAL
    assert job.events[-1].kind == state.value and job.ended_at is not None
    assert fake.count("sbatch") == 1


def test_cancel_of_a_job_slurm_forgot_is_fine(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    del backend.scheduler.jobs[job.slurm_job_id]
    jobsvc.cancel(job, backend)  # the fake, like a strict Slurm, says "not found"
    assert job.events[-1].kind == "cancel_requested"


def test_the_fake_is_the_real_scheduler_interface(backend):
    from adapters.scheduler import Scheduler

    assert isinstance(backend.scheduler, Scheduler)
    assert type(backend.scheduler).submit_idempotent is Scheduler.submit_idempotent
