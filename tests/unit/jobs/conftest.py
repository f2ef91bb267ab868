"""Fixtures of the jobs unit tests: the one fake Slurm (tests/support/fakescheduler.py)
and a workspace that keeps files in a dict. The services under test are the real ones."""

from __future__ import annotations

import pytest

from portal import db
from portal.services import jobs as jobsvc
from tests.support.fakes import FakeFiles
from tests.support.fakescheduler import FakeScheduler
from tests.support.members import make_member


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
