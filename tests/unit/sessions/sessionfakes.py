"""Fakes for the outside world of sessions (imported by conftest.py and the tests): the one
fake Slurm (tests/support/fakescheduler.py), a workspace that keeps files in a dict, an
sshd preparer that records what it was given. The services under test are the real ones."""

from __future__ import annotations

import json

from adapters.scheduler import JobState
from portal.services import public_images
from portal.services import sessions as svc
from tests.support.fakes import FakeFiles  # noqa: F401 - the session tests import it here
from tests.support.fakescheduler import FakeScheduler  # noqa: F401 - likewise
from tests.support.members import make_member  # noqa: F401 - likewise


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
