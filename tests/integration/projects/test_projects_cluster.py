"""Projects against the real dev cluster: what the portal does is what sacctmgr shows and
what Slurm enforces.

Each test works on its own account ("t" + random hex) and QOS ("p_" + account), removed
at the end with every job in it; proja and projb are never touched. A cluster that does
not answer fails these tests, it never skips them.
"""

from __future__ import annotations

import os
import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from adapters.accounts import SlurmAccounts
from adapters.errors import SlurmRejected
from adapters.runner import CommandRunner
from adapters.scheduler import JobSpec, SlurmScheduler
from portal import db
from portal.models import Project, ProjectStatus
from portal.services import (
    ServiceError,
    accounts_sync,
    cluster,
    project_expiry,
    project_settings,
    projects,
    users,
)
from portal.services.projects import OPERATOR
from tests.conftest import PASSWORD
from tests.support import slurmversion
from tests.support.slurmaccounts import drop_accounts, require_slurmdbd
from tests.support.waiting import wait_for

# The one-node dev cluster (tests/conftest.py): slurmdbd may keep a second one
# (`cluster.sh start-multi`), so accounts are read and changed on this one by name, as a
# coordinator on a multi-cluster site has to.
CLUSTER = os.environ.get("PORTAL_SLURM_CLUSTER") or None

pytestmark = pytest.mark.integration
SLEEP = "#!/bin/sh\nsleep 120\n"


@pytest.fixture(scope="module")
def slurm_up() -> None:
    require_slurmdbd()


@pytest.fixture
def sacct() -> SlurmAccounts:
    return SlurmAccounts(cluster=CLUSTER)


@pytest.fixture
def env(app, slurm_up, sacct):
    """An app context with portal users alice/bob/carol, a unique account name, cleanup."""
    account = "t" + secrets.token_hex(5)
    with app.test_request_context("/"):
        for name in ("alice", "bob", "carol"):
            users.create_user(name, password=PASSWORD)
        yield account
        db.session.rollback()
    drop_accounts(account, qos=f"p_{account}", sacct=sacct)


def _create(account: str, **settings) -> Project:
    return projects.create_project(OPERATOR, account=account, name=f"IT {account}",
                                   settings=settings, managers=["alice"], members=["bob"])


def _submit(account: str, user: str = "alice", **fields) -> str:
    spec = JobSpec(script=SLEEP, job_name=f"it-{account}", account=account, time=2,
                   **fields)
    return SlurmScheduler().submit(spec, as_user=user)


def _wait_for(predicate, what: str, timeout: float = 30.0):
    return wait_for(predicate, timeout, what=what)


def test_quota_is_enforced_and_shown_in_words(env, sacct, app, client, auth):
    """sacctmgr shows what the portal created; a job over the GPU quota stays pending with
    Slurm's QOSGrpGRES, and the project page says so in words, from the worker's cache."""
    account = env
    _create(account, gpu_limit=1, gpu_per_user=1, max_wall_minutes=30)
    [qos] = sacct.qos([f"p_{account}"])
    assert qos.grp_tres == {"gres/gpu": 1} and qos.max_wall == 30
    assert {a.user for a in sacct.associations(account)} == {None, "alice", "bob"}
    assert sacct.accounts([account])[0].coordinators == ("alice",)

    job_id = _submit(account, gres="gpu:a100:2")
    scheduler = SlurmScheduler()
    _wait_for(lambda: scheduler.info(job_id).reason == "QOSGrpGRES", "QOSGrpGRES")
    cluster.refresh(scheduler)
    auth.login("alice", PASSWORD)
    project_id = db.session.scalar(select(Project.id).where(Project.account == account))
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert f'data-job="{job_id}"' in page and "GPU quota is used up" in page


def test_coordinator_manages_her_accounts_users_from_the_shell(env, sacct):
    """alice (manager = coordinator) adds carol with sacctmgr herself; `accounts check`
    sees the hand edit and `--fix --from portal` undoes it. She cannot touch projb, where
    bob is the coordinator."""
    account = env
    _create(account)
    shell = CommandRunner()
    on_cluster = [f"cluster={CLUSTER}"] if CLUSTER else []
    shell.run(["sacctmgr", "-i", "add", "user", "carol", f"account={account}", *on_cluster],
              as_user="alice")
    assert "carol" in {a.user for a in sacct.associations(account)}
    denied = shell.run(["sacctmgr", "-i", "add", "user", "alice", "account=projb", *on_cluster],
                       as_user="alice", check=False)
    assert denied.returncode != 0 and "permission denied" in denied.stderr.lower()

    diffs = accounts_sync.check(sacct, [account])
    assert [(d.kind, d.slurm) for d in diffs] == [("extra_member", "carol")]
    accounts_sync.fix(diffs, "portal", sacct)
    assert "carol" not in {a.user for a in sacct.associations(account)}
    assert accounts_sync.check(sacct, [account]) == []


def test_check_fix_from_slurm_copies_a_hand_edited_quota(env, sacct):
    account = env
    project = _create(account, gpu_limit=2)
    sacct.modify_qos(f"p_{account}", {"GrpTRES": {"gres/gpu": 3}})
    diffs = accounts_sync.check(sacct, [account])
    assert [d.kind for d in diffs] == ["qos_limits"]
    accounts_sync.fix(diffs, "slurm", sacct)
    assert db.session.get(Project, project.id).gpu_limit == 3
    assert accounts_sync.check(sacct, [account]) == []


def test_expiry_blocks_submissions_and_extension_restores(env, sacct):
    account = env
    project = _create(account, end_date=(date.today() + timedelta(days=10)).isoformat())
    project_settings.update_settings(OPERATOR, project.id, {
        "end_date": (date.today() - timedelta(days=1)).isoformat()})
    assert project.status == ProjectStatus.EXPIRED
    own = next(a for a in sacct.associations(account) if a.user is None)
    assert (own.grp_jobs, own.grp_submit) == (0, 0)
    with pytest.raises(SlurmRejected, match="policy|GrpSubmit"):
        _submit(account, hold=True)

    alice = users.get_user("alice")
    request = project_expiry.request_extension(alice, project.id, 14, "paper revision")
    project_expiry.decide(OPERATOR, request.id, True, "granted")
    assert project.end_date == date.today() + timedelta(days=14)
    own = next(a for a in sacct.associations(account) if a.user is None)
    assert (own.grp_jobs, own.grp_submit) == (None, None)
    assert _submit(account, hold=True)  # accepted again


def test_slurmdbd_down_leaves_the_portal_unchanged(env, app, tmp_path, sacct):
    """slurmdbd is shared with the other tests running now, so it is not stopped: this
    adapter's sacctmgr reads a copy of slurm.conf whose AccountingStoragePort is closed,
    which is exactly what sacctmgr sees when slurmdbd is down ("Connection refused")."""
    account = env
    conf = tmp_path / "slurm.conf"
    lines = slurmversion.client_conf().read_text().splitlines()
    conf.write_text("\n".join("AccountingStoragePort=9" if ln.startswith(
        "AccountingStoragePort") else ln for ln in lines) + "\n")
    app.extensions["accounts"] = SlurmAccounts(
        runner=CommandRunner(env={"SLURM_CONF": str(conf)}, timeout=20))
    try:
        with pytest.raises(ServiceError) as caught:
            _create(account)
    finally:
        del app.extensions["accounts"]
    assert caught.value.code == "slurm_unavailable"
    assert db.session.scalar(select(Project).where(Project.account == account)) is None
    assert sacct.accounts([account]) == [] and sacct.qos([f"p_{account}"]) == []
