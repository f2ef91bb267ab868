"""Fakes for the outside world of jobs: a Slurm that keeps jobs in a dict, and a
workspace that keeps files in a dict. The services under test are the real ones."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.errors import JobNotFound
from adapters.scheduler import JobInfo, JobState
from portal import db
from portal.services import cluster
from portal.services import jobs as jobsvc
from tests.support.fakes import FakeFiles
from tests.support.members import make_member

TERMINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT}


class FakeScheduler:
    """Just enough of SlurmScheduler: submit, look up, cancel; `calls` counts commands."""

    def __init__(self):
        self.jobs: dict[str, JobInfo] = {}
        self.specs: dict[str, object] = {}
        self.ids = itertools.count(1000)
        self.calls: list[str] = []
        self.fail_submit: Exception | None = None
        self.runner = None

    # -- what the services call
    def submit(self, spec, *, as_user):
        self.calls.append("sbatch")
        if self.fail_submit is not None:
            raise self.fail_submit
        jid = str(next(self.ids))
        self.jobs[jid] = JobInfo(
            id=jid, name=spec.job_name, user=as_user, state=JobState.QUEUED,
            slurm_state="PENDING", account=spec.account, partition=spec.partition,
            reason="BeginTime" if spec.begin else "Priority", comment=spec.comment,
            submit_time=datetime.now(UTC),
        )
        self.specs[jid] = spec
        return jid

    def submit_idempotent(self, spec, *, as_user, tag):
        return self.submit(replace(spec, comment=tag), as_user=as_user)

    def info_all(self, *, job_ids=None, **_):
        self.calls.append("squeue")
        jobs = list(self.jobs.values())
        return [j for j in jobs if job_ids is None or j.id in set(job_ids)]

    def history(self, job_ids=None, *, since=None, user=None):
        self.calls.append("sacct")
        return [j for j in self.jobs.values() if job_ids is None or j.id in set(job_ids)]

    def find_by_comment(self, tag, *, user=None):
        self.calls.append("squeue")
        found = [j for j in self.jobs.values() if j.comment == tag]
        return found[-1] if found else None

    def operator_cancel(self, job_id):
        self.calls.append("scancel-operator")
        job = self.jobs.get(job_id)
        if job is not None and job.state not in TERMINAL:
            job.state, job.slurm_state = JobState.CANCELLED, "CANCELLED"
            job.end_time = datetime.now(UTC)

    def delete(self, job_id, *, as_user):
        self.calls.append("scancel")
        if job_id not in self.jobs:
            raise JobNotFound(f"job {job_id} not found")
        job = self.jobs[job_id]
        if job.state not in TERMINAL:
            job.state, job.slurm_state = JobState.CANCELLED, "CANCELLED"
            job.end_time = datetime.now(UTC)

    # -- test helpers
    def set_state(self, jid, state: JobState, *, node="vm", exit_code=None, reason=None):
        job = self.jobs[jid]
        job.state, job.slurm_state = state, state.value.upper()
        if state in (JobState.RUNNING, JobState.COMPLETED, JobState.FAILED):
            job.start_time = job.start_time or datetime.now(UTC)
            job.nodes = [node]
        if state in TERMINAL:
            job.end_time = datetime.now(UTC)
            job.exit_code, job.exit_signal = exit_code, 0 if exit_code is not None else None
        job.reason = reason

    def snapshot(self) -> list[dict]:
        return [cluster._plain(j) for j in self.jobs.values()]

    def pending(self, prefix=""):
        return [j for j in self.jobs.values()
                if j.state in (JobState.QUEUED, JobState.QUEUED_HELD)
                and (j.name or "").startswith(prefix)]

    def count(self, command):
        return self.calls.count(command)


def controller_answered(at=None):
    """Record a good cluster snapshot (the worker's evidence that slurmctld answered)."""
    from portal.models import ClusterSnapshot

    db.session.add(ClusterSnapshot(data={"cluster": {}, "jobs": []},
                                   taken_at=at or db.utcnow()))
    db.session.commit()


@pytest.fixture
def backend(app, monkeypatch):
    fake = jobsvc.Backend(FakeScheduler(), FakeFiles())
    monkeypatch.setattr(jobsvc, "get_backend", lambda: fake)
    return fake


@pytest.fixture
def ctx(app):
    """A request context for calling services directly (flask-babel, audit need one)."""
    with app.test_request_context():
        yield
    db.session.remove()


@pytest.fixture
def member(ctx):
    """For service tests: users made inside the test's request context."""
    return make_member


@pytest.fixture
def outside_member(app):
    """For page/API tests: no context stays pushed (each request gets its own `g`)."""

    def _make(*args, **kwargs):
        with app.app_context():
            return make_member(*args, **kwargs)

    return _make


@pytest.fixture
def job_data():
    return {"name": "train-1", "cpus": "2", "mem_gb": "4", "image": "base",
            "command": "python3 -c 'print(1)'"}
