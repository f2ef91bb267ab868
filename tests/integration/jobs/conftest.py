"""Integration fixtures for F6–F8: the cluster cache filled, a unique name per test, and
cleanup of every Slurm job a test made (by its name prefix)."""

from __future__ import annotations

import uuid

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db
from tests.integration.jobs.jobhelpers import cycle


@pytest.fixture
def cluster_ctx(app):
    """A request context, with the cluster cache filled once (partitions, GPU models)."""
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    with app.test_request_context():
        yield app
    db.session.remove()


@pytest.fixture
def prefix():
    """A unique job/template/schedule name prefix for this test."""
    return "it" + uuid.uuid4().hex[:8]


@pytest.fixture
def slurm(app, prefix):
    """The real scheduler; at the end every job of this test (by name prefix) is cancelled."""
    scheduler = make_scheduler(app.config)
    yield scheduler
    runner = CommandRunner()
    for job in scheduler.info_all():
        if (job.name or "").startswith(prefix) and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user=job.user, check=False)


