"""Deleting a job from the list (F6): cancel it if it may still run, hide it, and when it
was a schedule's upcoming run, skip that run and submit the schedule's next one at once.

It spans the job and its schedule, so it sits above both: jobs (one job's life) and
schedrun (the schedule engine, built on jobs) do not import each other through it.
"""

from __future__ import annotations

from adapters.errors import AdapterError
from portal import db
from portal.models import Job
from portal.services import audit, outage, schedrun
from portal.services import jobs as jobsvc
from portal.services.core.states import JOB_TERMINAL as TERMINAL
from portal.services.core.states import job_tag


def delete_job(user, job_id: int, backend=None) -> Job:
    """Cancel the job if it may still run, and hide it from the list.

    A schedule's upcoming run is skipped: the schedule's next run is submitted at once.
    Raises NotFound, or ServiceError with Slurm's words if the cancel is refused.
    """
    job = jobsvc.get_job(user, job_id)
    backend = backend or jobsvc.get_backend()
    if job.state == "submitting" and not job.slurm_job_id:
        _adopt_for_cancel(job, backend)
    if job.state not in TERMINAL and job.slurm_job_id:
        jobsvc.cancel(job, backend)
    was_upcoming = job.upcoming
    job.hidden = True
    job.upcoming = False
    if job.state == "submitting":
        job.state = "cancelled"  # the worker cancels it should the submission surface
    db.session.commit()
    audit.record("job.delete", f"job:{job.id}", actor=user, name=job.name,
                 slurm_job_id=job.slurm_job_id)
    if was_upcoming and job.schedule_id:
        schedrun.run_skipped(job, backend)
    return job


def _adopt_for_cancel(job: Job, backend) -> None:
    """A submission whose answer was lost may still have reached Slurm: find it by tag."""
    try:
        found = backend.scheduler.find_by_comment(job_tag(job), user=job.user.unix_user)
    except AdapterError as exc:
        raise outage.unavailable(exc) from None
    if found is not None:
        job.slurm_job_id = found.id
