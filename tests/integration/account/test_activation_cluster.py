"""Activation against the real dev cluster: a throwaway account ("t" + hex) with the Unix
user carol as a member in the portal only; "Activate" adds the association with sacctmgr
and creates carol's workspace as root (owner carol, mode 0700). Cleaned up at the end;
proja/projb are never touched."""

from __future__ import annotations

import os
import secrets
import shutil
import stat

import pytest

from adapters.accounts import SlurmAccounts
from adapters.errors import AdapterError
from adapters.runner import CommandRunner
from adapters.unix import lookup
from portal import db
from portal.models import AuditEvent, Membership
from portal.services import ServiceError, activation, users
from tests.conftest import PASSWORD
from tests.support.members import ensure_project

pytestmark = pytest.mark.integration


@pytest.fixture
def throwaway(app, tmp_path):
    try:
        CommandRunner(timeout=20).run(["sacctmgr", "--noheader", "show", "cluster"])
    except AdapterError as exc:
        pytest.fail(f"slurmdbd does not answer ({exc.message})", pytrace=False)
    if lookup("carol") is None:
        pytest.fail("the dev cluster's Unix user carol is missing", pytrace=False)
    account = "t" + secrets.token_hex(5)
    sacct = SlurmAccounts()
    sacct.add_account(account)
    base = tmp_path / "ws"
    base.mkdir()
    os.chmod(tmp_path, 0o755)
    app.config["WORKSPACE"] = str(base / "carol")
    app.config["ACTIVATION_REQUIRED"] = True
    try:
        with app.test_request_context("/"):
            user, _ = users.create_user("carol", password=PASSWORD)
            project = ensure_project(account)
            db.session.add(Membership(user_id=user.id, project_id=project.id))
            user.current_project_id = project.id
            db.session.commit()
            yield {"user": user, "account": account, "sacct": sacct,
                   "workspace": str(base / "carol")}
    finally:
        sacct.remove_user("carol", account)
        sacct.remove_account(account)
        shutil.rmtree(base, ignore_errors=True)


def test_activate_provisions_association_and_workspace(throwaway):
    user, account, sacct = throwaway["user"], throwaway["account"], throwaway["sacct"]
    state = activation.refresh(user)
    items = {c["item"]: c["ok"] for c in state.checks}
    assert items == {"unix": True, "association": False, "workspace": False}
    with pytest.raises(ServiceError) as err:
        activation.require_activated(user)
    assert err.value.code == "not_activated"

    state = activation.activate(user)
    assert all(c["ok"] for c in state.checks) and state.activated_at is not None
    assert "carol" in {a.user for a in sacct.associations(account)}  # what sacctmgr shows
    info = os.lstat(throwaway["workspace"])
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == lookup("carol").uid
    assert stat.S_IMODE(info.st_mode) == 0o700
    activation.require_activated(user)  # no exception: carol may create work now
    event = db.session.query(AuditEvent).filter_by(action="activation.activate").one()
    assert f"association:{account}" in event.details["provisioned"]

    # Removed by hand in Slurm: a refresh notices (activation is kept; Activate repairs).
    sacct.remove_user("carol", account)
    state = activation.refresh(user)
    assert {c["item"]: c["ok"] for c in state.checks}["association"] is False
    state = activation.activate(user)
    assert all(c["ok"] for c in state.checks)
    assert "carol" in {a.user for a in sacct.associations(account)}


def test_demo_user_is_activated_lazily_without_changes(app):
    """alice in proja (as `portal init --demo` makes her): ready on the dev cluster, so her
    first create passes the check and it is cached — nothing is provisioned."""
    app.config["ACTIVATION_REQUIRED"] = True
    with app.test_request_context("/"):
        user, _ = users.create_user("alice", password=PASSWORD)
        project = ensure_project("proja")
        db.session.add(Membership(user_id=user.id, project_id=project.id))
        db.session.commit()
        activation.require_activated(user)
        state = activation.get_state(user)
        assert state.activated_at is not None and all(c["ok"] for c in state.checks)
        assert db.session.query(AuditEvent).count() == 0  # checked, nothing provisioned
