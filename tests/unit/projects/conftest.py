"""Project tests: a fake sacctmgr, four people (admin, manager, member, outsider), a project."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import ClusterSnapshot
from tests.support.projectworld import create_tproj, ctx, fake, people  # noqa: F401 - fixtures


@pytest.fixture
def project(app, fake, people):  # noqa: F811 - the fixtures imported above
    with app.test_request_context("/"):
        return create_tproj(people, description="for tests", settings={
            "gpu_limit": 4, "cpu_limit": 16, "mem_limit_gb": 64, "gpu_per_user": 2,
            "end_date": "2099-12-31"})


def job(jid, account="tproj", user="bin", state="running", **extra) -> dict:
    """A cached job as the worker stores it (JobInfo as JSON)."""
    base = {"id": str(jid), "name": f"job{jid}", "user": user, "state": state,
            "slurm_state": {"running": "RUNNING", "queued": "PENDING"}.get(state, state.upper()),
            "account": account, "partition": "gpu", "qos": None, "reason": None,
            "nodes": ["vm"] if state == "running" else [], "gres": None, "tres": None,
            "submit_time": None, "start_time": None, "end_time": None, "time_limit": 60,
            "exit_code": None, "exit_signal": None, "comment": None, "workdir": None}
    return {**base, **extra}


def put_jobs(jobs: list[dict]) -> None:
    db.session.add(ClusterSnapshot(data={"cluster": {}, "jobs": jobs}))
    db.session.commit()
