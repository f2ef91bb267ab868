"""Issue #13: no database transaction with writes is open while a Slurm command runs, on
the approval paths (a held create, approve, reject, the worker's order step) and the
membership changes (sacctmgr). Slurm faked; tests/support/txguard.py watches."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import Order, Project, ProjectRole
from portal.services import approvals as apsvc
from portal.services import jobs as jobsvc
from portal.services import project_settings, projects
from tests.support.txguard import TxGuard


@pytest.fixture
def guard(app, monkeypatch, backend, accounts):
    watched = TxGuard(app, monkeypatch).watch(backend.scheduler, backend.files, accounts)
    yield watched
    watched.close()


def _threshold(n=1):
    project = db.session.query(Project).filter_by(account="proja").one()
    project.approval_threshold = n
    db.session.commit()
    return project


def test_a_held_create_and_its_approval_run_no_command_inside_a_write(
        member, backend, accounts, job_data, guard):
    user, manager = member(), member("mona", role=ProjectRole.MANAGER)
    _threshold()
    job = jobsvc.create_job(user, job_data)
    order = db.session.query(Order).one()
    assert f"hold {job.slurm_job_id}" in backend.scheduler.calls  # the operator hold ran
    apsvc.approve(manager, order.id, backend)
    assert order.approval == "approved"
    assert any(c.endswith("operator_release") for c in guard.calls)
    guard.assert_clean()


def test_reject_runs_no_command_inside_a_write(member, backend, job_data, guard):
    user, manager = member(), member("mona", role=ProjectRole.MANAGER)
    _threshold()
    jobsvc.create_job(user, job_data)
    order = db.session.query(Order).one()
    apsvc.reject(manager, order.id, "one GPU is enough", backend)
    assert order.approval == "rejected"
    guard.assert_clean()


def test_the_worker_order_step_holds_late_jobs_outside_a_write(
        member, backend, job_data, guard):
    from adapters.errors import SlurmUnreachable

    user = member()
    _threshold()
    backend.scheduler.fail_submit = SlurmUnreachable("down", ["sbatch"], "down", 1)
    late = jobsvc.create_job(user, job_data)
    backend.scheduler.fail_submit = None
    jid = backend.scheduler.submit(backend.scheduler.specs.get("x") or _spec(), as_user="u")
    late.slurm_job_id, late.state = jid, "pending"
    db.session.commit()
    assert apsvc.worker_step(backend.scheduler) == {"orders_synced": 1}
    assert f"hold {jid}" in backend.scheduler.calls
    guard.assert_clean()


def _spec():
    from adapters.scheduler import JobSpec

    return JobSpec(script="#!/bin/sh\ntrue\n", job_name="late", cpus=1, mem="1G",
                   gres="gpu:a100:3")


def test_member_changes_run_sacctmgr_outside_a_write(member, accounts, guard):
    admin = member("adm")
    admin.is_admin = True
    db.session.commit()
    created = projects.create_project(admin, account="tproj", name="T Project",
                                      settings={"gpu_limit": 4, "approval_threshold": 1},
                                      managers=["adm"])
    member("olga", account="projb")
    olga = projects._find_user("olga")
    projects.add_member(admin, created.id, "olga")
    projects.set_role(admin, created.id, olga.id, ProjectRole.MANAGER)
    projects.set_role(admin, created.id, olga.id, ProjectRole.MEMBER)
    projects.update_details(admin, created.id, name="T Project 2", description="x")
    project_settings.update_settings(admin, created.id, {"gpu_limit": "8"})
    projects.remove_member(admin, created.id, olga.id)
    assert sum(c.endswith(("add_user", "remove_user", "add_coordinator"))
               for c in guard.calls) >= 4
    guard.assert_clean()


def test_the_worker_recheck_cancels_outside_a_write(member, backend, accounts, job_data,
                                                    guard):
    from adapters.scheduler import JobState
    from portal.services import cluster

    user, manager = member(), member("mona", role=ProjectRole.MANAGER)
    _threshold()
    first, second = (jobsvc.create_job(user, job_data) for _ in range(2))
    for order in db.session.query(Order).order_by(Order.id):
        apsvc.approve(manager, order.id, backend)
    fake = backend.scheduler
    fake.set_state(first.slurm_job_id, JobState.RUNNING)  # matches: becomes "started"
    fake.jobs[second.slurm_job_id].tres = "cpu=1,mem=1G,node=1,gres/gpu=4,gres/gpu:a100=4"
    jobs = cluster._plain(list(fake.jobs.values()))
    assert apsvc.worker_step(fake, jobs) == {"orders_changed": 1}
    assert fake.calls[-1] == f"cancel {second.slurm_job_id}"
    guard.assert_clean()
