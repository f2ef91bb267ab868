"""Orders and approvals through the real services; Slurm (jobs and sacctmgr) faked."""

from __future__ import annotations

import pytest

from adapters.scheduler import JobState
from portal import db
from portal.services import jobs as jobsvc
from tests.support.fakes import FakeFiles
from tests.support.fakescheduler import FakeScheduler
from tests.support.members import make_member
from tests.unit.projects.fake_accounts import FakeAccounts


class OperatorScheduler(FakeScheduler):
    """The one fake Slurm plus the operator commands approvals use; its jobs carry the
    requested GPUs, CPUs, memory and time as squeue shows them (approvals compare them)."""

    def submit(self, spec, *, as_user):
        jid = super().submit(spec, as_user=as_user)
        job = self.jobs[jid]
        tres = f"cpu={spec.cpus or 1},mem={spec.mem or '500M'},node=1"
        if spec.gres:
            _name, model, count = spec.gres.split(":")
            tres += f",gres/gpu={count},gres/gpu:{model}={count}"
        job.gres, job.tres, job.qos = spec.gres, tres, "normal"
        job.partition = spec.partition or "gpu"  # Slurm fills in its default partition
        job.time_limit = int(spec.time) if spec.time else 240
        return jid

    def operator_hold(self, job_id):
        self.calls.append(f"hold {job_id}")
        job = self.jobs[job_id]
        job.state, job.reason = JobState.QUEUED_HELD, "JobHeldAdmin"

    def operator_release(self, job_id):
        self.calls.append(f"release {job_id}")
        self.jobs[job_id].state, self.jobs[job_id].reason = JobState.QUEUED, "None"

    def operator_move(self, job_id, *, account):
        self.calls.append(f"move {job_id} {account}")
        self.jobs[job_id].account = account

    def operator_cancel(self, job_id):
        self.calls.append(f"cancel {job_id}")
        if job_id in self.jobs:
            self.set_state(job_id, JobState.CANCELLED)


@pytest.fixture
def backend(app, monkeypatch):
    fake = jobsvc.Backend(OperatorScheduler(), FakeFiles())
    monkeypatch.setattr(jobsvc, "get_backend", lambda: fake)
    monkeypatch.setattr("portal.orders.routes.get_backend", lambda: fake)
    monkeypatch.setattr("portal.api.orders.get_backend", lambda: fake)
    return fake


@pytest.fixture
def accounts(app):
    fake = FakeAccounts()
    app.extensions["accounts"] = fake
    yield fake
    app.extensions.pop("accounts", None)


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield
    db.session.remove()


@pytest.fixture
def member(ctx):
    return make_member


@pytest.fixture
def job_data():
    return {"name": "big-1", "cpus": "1", "mem_gb": "1", "image": "base",
            "command": "true", "gpu_model": "a100", "gpu_count": "3",
            "reason": "a 3-GPU fine-tune for the paper"}
