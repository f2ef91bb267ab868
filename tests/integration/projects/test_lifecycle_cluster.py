"""Issue #16 item 9 against the real dev cluster: an admin archives a project (its jobs are
cancelled, its account and QOS refuse new jobs, the records stay) and unarchives it; an
admin deactivates a user (their jobs cancelled, their associations gone, their login
refused, their history kept) and reactivates them. Each test has its own account
("t" + random hex, see test_projects_cluster.py); proja and projb are never touched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.errors import SlurmRejected
from adapters.runner import CommandRunner
from adapters.scheduler import SlurmScheduler
from portal import db
from portal.models import AuditEvent, Membership, Project, ProjectStatus
from portal.services import Forbidden, ServiceError, accounts_sync, lifecycle, project_expiry, users
from portal.services import jobs as jobsvc
from portal.services.projects import OPERATOR
from tests.conftest import PASSWORD
from tests.integration.projects.test_projects_cluster import (  # noqa: F401 - fixtures
    _create,
    _submit,
    _wait_for,
    env,
    sacct,
    slurm_up,
)

pytestmark = pytest.mark.integration


def _gone(job_id: str) -> bool:
    out = CommandRunner().run(["squeue", "-h", "-j", job_id, "-o", "%T"], check=False)
    return out.stdout.strip() in ("", "CANCELLED", "COMPLETED")


def _qos_blocks(name: str) -> str:
    return CommandRunner().run(["sacctmgr", "-nP", "show", "qos", name,
                                "format=grpjobs,grpsubmitjobs"]).stdout.strip()


def _own(accounts, account):
    return next(a for a in accounts.associations(account) if a.user is None)


def test_archive_cancels_blocks_keeps_and_unarchive_restores(env, sacct):  # noqa: F811
    account = env
    project = _create(account)
    with pytest.raises(Forbidden):  # a project manager may not archive, only admins
        lifecycle.archive_project(users.get_user("alice"), project.id)
    running = _submit(account, "bob")
    done = lifecycle.archive_project(OPERATOR, project.id, reason="course over")
    assert running in done["cancelled"]
    _wait_for(lambda: _gone(running), "the project's job to be cancelled")
    own = _own(sacct, account)
    assert (own.grp_jobs, own.grp_submit) == (0, 0)  # Slurm refuses and starts nothing
    assert _qos_blocks(f"p_{account}") == "0|0"
    with pytest.raises(SlurmRejected):
        _submit(account, "alice", hold=True)
    # The portal says so in words before Slurm; the project and its members stay on record.
    alice = users.get_user("alice")
    alice.current_project_id = project.id
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        jobsvc.create_job(alice, {"name": "after", "command": "true"})
    assert refused.value.code == "project_archived"
    kept = db.session.get(Project, project.id)
    assert kept.status == ProjectStatus.ARCHIVED and len(kept.memberships) == 2
    assert {a.user for a in sacct.associations(account)} == {None, "alice", "bob"}
    project_expiry.enforce_expiry()  # the worker leaves an archived project alone
    assert db.session.get(Project, project.id).status == ProjectStatus.ARCHIVED
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "project.archive",
                                                       AuditEvent.target == account))
    assert event.details["cancelled"] == [running] and event.details["reason"] == "course over"

    assert accounts_sync.check(sacct, [account]) == []  # blocked, as the portal says
    lifecycle.unarchive_project(OPERATOR, project.id)
    own = _own(sacct, account)
    assert (own.grp_jobs, own.grp_submit) == (None, None)
    assert _qos_blocks(f"p_{account}") == "|"
    assert _submit(account, "alice", hold=True)  # accepted again
    assert db.session.get(Project, project.id).status == ProjectStatus.ACTIVE


def test_deactivate_ends_jobs_removes_associations_and_reactivate_restores(
        env, sacct):  # noqa: F811
    account = env
    project = _create(account)
    with pytest.raises(Forbidden):
        lifecycle.deactivate_user(users.get_user("alice"), "bob")
    job = _submit(account, "bob")
    _submit(account, "alice", hold=True)  # someone else's job is not touched
    done = lifecycle.deactivate_user(OPERATOR, "bob", reason="left the group")
    assert done["cancelled"] == [job] and done["accounts"] == [account]
    _wait_for(lambda: _gone(job), "bob's job to be cancelled")
    assert {a.user for a in sacct.associations(account)} == {None, "alice"}
    assert sacct.accounts([account])[0].coordinators == ("alice",)
    with pytest.raises(SlurmRejected, match="(?i)invalid account"):
        _submit(account, "bob", hold=True)
    assert users.authenticate("bob", PASSWORD) is None  # the portal login is refused
    bob = users.get_user("bob")
    assert not bob.is_enabled  # kept, with his membership (history)
    assert db.session.scalar(select(Membership).where(Membership.user_id == bob.id,
                                                      Membership.project_id == project.id))
    assert accounts_sync.check(sacct, [account]) == []  # `accounts check` agrees
    alive = SlurmScheduler().info_all(account=account)
    assert [j.user for j in alive if not j.state.is_terminal] == ["alice"]

    lifecycle.reactivate_user(OPERATOR, "bob")
    assert {a.user for a in sacct.associations(account)} == {None, "alice", "bob"}
    assert _submit(account, "bob", hold=True)
    assert users.authenticate("bob", PASSWORD) is not None
