"""Fakes for the outside world of sessions (imported by conftest.py and the tests): a Slurm
that keeps jobs in a dict, a workspace that keeps files in a dict, an sshd preparer that
records what it was given. The services under test are the real ones."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime

from adapters.errors import JobNotFound
from adapters.scheduler import JobInfo, JobState
from portal.services import public_images
from portal.services import sessions as svc
from tests.support.fakes import FakeFiles  # noqa: F401 - the session tests import it here
from tests.support.members import make_member  # noqa: F401 - likewise

TERMINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT}


class FakeScheduler:
    def __init__(self):
        self.jobs: dict[str, JobInfo] = {}
        self.specs: dict[str, object] = {}
        self.ids = itertools.count(500)
        self.calls: list[str] = []
        self.fail_submit: Exception | None = None
        self.runner = None

    def submit(self, spec, *, as_user):
        self.calls.append("sbatch")
        if self.fail_submit is not None:
            raise self.fail_submit
        jid = str(next(self.ids))
        self.jobs[jid] = JobInfo(
            id=jid, name=spec.job_name, user=as_user, state=JobState.QUEUED,
            slurm_state="PENDING", account=spec.account, partition=spec.partition,
            reason="BeginTime" if spec.begin else "Priority", comment=spec.comment)
        self.specs[jid] = (spec, as_user)
        return jid

    def submit_idempotent(self, spec, *, as_user, tag):
        return self.submit(replace(spec, comment=tag), as_user=as_user)

    def info_all(self, *, job_ids=None, **_):
        self.calls.append("squeue")
        return [j for j in self.jobs.values() if job_ids is None or j.id in set(job_ids)]

    def history(self, job_ids=None, *, since=None, user=None):
        self.calls.append("sacct")
        return [j for j in self.jobs.values() if job_ids is None or j.id in set(job_ids)]

    def find_by_comment(self, tag, *, user=None):
        found = [j for j in self.jobs.values() if j.comment == tag]
        return found[-1] if found else None

    def delete(self, job_id, *, as_user):
        self.calls.append(f"scancel:{as_user}")
        if job_id not in self.jobs:
            raise JobNotFound(f"job {job_id} not found")
        job = self.jobs[job_id]
        if job.state not in TERMINAL:
            job.state, job.slurm_state = JobState.CANCELLED, "CANCELLED"

    def set_state(self, jid, state: JobState, *, node="vm", exit_code=None, reason=None):
        job = self.jobs[jid]
        job.state, job.slurm_state = state, state.value.upper()
        if state in (JobState.RUNNING, JobState.COMPLETED, JobState.FAILED):
            job.start_time = job.start_time or datetime.now(UTC)
            job.nodes = [node]
        if state in TERMINAL:
            job.end_time = datetime.now(UTC)
            job.exit_code = exit_code
        job.reason = reason

    def snapshot(self) -> list[dict]:
        from portal.services import cluster

        return [cluster._plain(j) for j in self.jobs.values()]


class FakeSshd:
    """Records `prepare` (the real one runs ssh-keygen as the user)."""

    prepared: list = []

    def __init__(self, runner=None, files=None):
        self.files = files

    def prepare(self, user, spec, authorized_keys):
        FakeSshd.prepared.append((user, spec, list(authorized_keys)))
        self.files.write(user, spec.authorized_keys_path, "\n".join(authorized_keys))


def write_conn(backend, session, host="vm", jupyter_port=40001, ssh_port=40002,
               token="ab" * 24):
    """What the job script writes once its services listen."""
    backend.files.write("x", f"{session.directory}/connection.json", json.dumps(
        {"host": host, "jupyter_port": jupyter_port, "ssh_port": ssh_port, "token": token,
         "job_id": session.slurm_job_id}))


def start_running(backend, user, data):
    """A new session of `user` from form `data`, as it is once Slurm runs it on node vm
    and its services answer (needs a request context)."""
    session = svc.create_session(user, data)
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    write_conn(backend, session)
    svc.probe(session)
    return session


def register_jupyter(path="/srv/images/jupyter"):
    return public_images.register_image("jupyter", path, framework="PyTorch 2",
                                        services="jupyter,ssh,webterm", auth_methods="key")


def session_data(**extra) -> dict:
    return {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4",
            "allow_all": True, "end": "hours", "hours": "2", **extra}
