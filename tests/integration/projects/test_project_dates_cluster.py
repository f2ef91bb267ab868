"""Project start dates and live usage against the real dev cluster (own "t"+hex account).

A project before its start date is blocked in Slurm (sbatch refused), its page says when
it opens, and the worker's step opens it on that day. A job submitted from a shell on the
login node, around the portal, counts with its real CPUs and memory on the project card.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from adapters.errors import SlurmRejected
from adapters.runner import CommandRunner
from adapters.scheduler import SlurmScheduler
from portal import db
from portal.models import Project, ProjectStatus
from portal.services import cluster, project_expiry
from portal.services import project_usage as pu
from tests.conftest import PASSWORD
from tests.integration.projects import test_projects_cluster as base
from tests.integration.projects.test_projects_cluster import _create, _submit, _wait_for

# The projects tests' fixtures: a fresh "t"+hex account, removed with its jobs.
env, sacct, slurm_up = base.env, base.sacct, base.slurm_up

pytestmark = pytest.mark.integration


def _own(accounts, account):
    return next(a for a in accounts.associations(account) if a.user is None)


def test_a_project_opens_on_its_start_date(env, sacct, client, auth):
    account = env
    start = date.today() + timedelta(days=2)
    project = _create(account, start_date=start.isoformat())
    assert project.status == ProjectStatus.NOT_STARTED
    own = _own(sacct, account)
    assert (own.grp_jobs, own.grp_submit) == (0, 0)
    with pytest.raises(SlurmRejected, match="policy|GrpSubmit"):
        _submit(account, hold=True)
    # A shell on the login node gets the same refusal: Slurm enforces it, not the portal.
    shell = CommandRunner().run(["sbatch", "--hold", f"--account={account}", "--wrap=true"],
                                as_user="alice", check=False)
    assert shell.returncode != 0

    auth.login("alice", PASSWORD)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert f"The project starts on {start.isoformat()}" in page

    summary = project_expiry.enforce_expiry(on=start)
    assert summary["projects_opened"] == 1
    assert project.status == ProjectStatus.ACTIVE
    own = _own(sacct, account)
    assert (own.grp_jobs, own.grp_submit) == (None, None)
    assert _submit(account, hold=True)  # accepted now


def test_login_node_jobs_count_cpus_and_memory(env, app):
    """`sbatch -c 2 --mem-per-cpu=300` from a shell: the card counts 2 CPUs and 600 MB."""
    account = env
    _create(account)
    shell = CommandRunner().run(
        ["sbatch", "--parsable", f"--account={account}", "--partition=cpu", "-c", "2",
         "--mem-per-cpu=300", "--time=2", "--output=/dev/null", "--wrap=sleep 120"],
        as_user="alice")
    job_id = shell.stdout.strip().split(";")[0]
    scheduler = SlurmScheduler()
    _wait_for(lambda: scheduler.info(job_id).state.value == "running", "the job to run", 60)
    cluster.refresh(scheduler)
    jobs, _ = pu.cached_jobs()
    usage = pu.usage_by_account(jobs)[account]
    assert (usage.running, usage.cpus, usage.mem_mb, usage.partial) == (1, 2, 600, False)
    assert db.session.scalar(select(Project.id).where(Project.account == account))
