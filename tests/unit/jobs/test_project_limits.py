"""Jobs and the project's limits (issue 3): refused before submission when they can never
fit, and a --time no longer than the project's limit when the job names none."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import Job, Project
from portal.services import ServiceError
from portal.services import jobs as jobsvc


def _limits(**values) -> None:
    project = db.session.query(Project).filter_by(account="proja").one()
    for key, value in values.items():
        setattr(project, key, value)
    db.session.commit()


@pytest.mark.parametrize("limits, change, message", [
    ({"gpu_per_user": 2}, {"gpu_model": "a100", "gpu_count": "4"},
     "This project allows at most 2 GPUs per user; you asked for 4."),
    ({"gpu_limit": 1}, {"gpu_model": "a100", "gpu_count": "2"},
     "This project's quota is 1 GPUs; you asked for 2."),
    ({"cpu_limit": 1}, {"cpus": "2"}, "This project's quota is 1 CPU cores; you asked for 2."),
    ({"mem_limit_gb": 2}, {"mem_gb": "4"},
     "This project's quota is 2 GB of memory; you asked for 4."),
])
def test_request_over_the_projects_limit_is_refused_with_the_limit(
    member, backend, job_data, limits, change, message
):
    user = member()
    _limits(**limits)
    with pytest.raises(ServiceError) as refused:
        jobsvc.create_job(user, {**job_data, **change})
    assert refused.value.code == "over_quota" and str(refused.value.message) == message
    assert db.session.query(Job).count() == 0 and backend.scheduler.count("sbatch") == 0


def test_request_within_the_limits_is_submitted(member, backend, job_data):
    user = member()
    _limits(gpu_per_user=2, gpu_limit=4, cpu_limit=8, mem_limit_gb=16)
    job = jobsvc.create_job(user, {**job_data, "gpu_model": "a100", "gpu_count": "2"})
    assert backend.scheduler.specs[job.slurm_job_id].gres == "gpu:a100:2"


def test_job_gets_the_projects_session_limit_as_its_time(member, backend, job_data):
    user = member()
    _limits(max_wall_minutes=90)
    job = jobsvc.create_job(user, job_data)
    assert backend.scheduler.specs[job.slurm_job_id].time == 90
    assert "--time=90" in job.sbatch_args


def test_without_a_project_limit_the_partition_default_applies(member, backend, job_data):
    job = jobsvc.create_job(member(), job_data)
    assert backend.scheduler.specs[job.slurm_job_id].time is None
    assert not [a for a in job.sbatch_args if a.startswith("--time")]
