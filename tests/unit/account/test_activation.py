"""Cloud-platform activation (F11): checks item by item, provisioning as the operator,
and the rule that a user who is not activated cannot create sessions, jobs or schedules."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal import db
from portal.models import Activation, AuditEvent, Membership
from portal.services import ServiceError, activation
from portal.services import jobs as jobsvc
from portal.services import schedules as schedsvc
from portal.services import sessions as sessvc
from tests.conftest import PASSWORD
from tests.support.members import ensure_project


@pytest.fixture
def ursula(ctx, cluster_side, monkeypatch):
    from portal.services import users

    user, _ = users.create_user("ursula", password=PASSWORD)  # Unix account faked
    project = ensure_project("proja")
    db.session.add(Membership(user_id=user.id, project_id=project.id))
    user.current_project_id = project.id
    db.session.commit()
    cluster_side["accounts"].add_account("proja")
    return user


def _items(state):
    return {(c["item"], c["target"]): c["ok"] for c in state.checks}


def test_checks_each_item_and_nothing_is_ready(ursula):
    state = activation.refresh(ursula)
    assert _items(state) == {("unix", "ursula"): True, ("association", "proja"): False,
                             ("workspace", "/home/ursula"): False}
    assert state.activated_at is None and state.checked_at is not None


def test_activate_provisions_association_and_workspace_then_is_activated(ursula, cluster_side):
    state = activation.activate(ursula)
    assert ("proja", "ursula") in cluster_side["accounts"].assocs
    assert cluster_side["spaces"].provisioned == [("/home/ursula", "ursula", 5001, 0o700)]
    assert all(c["ok"] for c in state.checks) and state.activated_at is not None
    event = db.session.query(AuditEvent).filter_by(action="activation.activate").one()
    assert event.details["provisioned"] == ["association:proja", "workspace:/home/ursula"]


@pytest.mark.parametrize("uid,mode,why", [(5001, 0o777, "writable"), (0, 0o700, "owned")])
def test_wrong_owner_or_mode_is_not_ready(ursula, cluster_side, uid, mode, why):
    cluster_side["accounts"].add_user("ursula", "proja")
    cluster_side["spaces"].dirs["/home/ursula"] = (uid, mode)
    state = activation.refresh(ursula)
    check = next(c for c in state.checks if c["item"] == "workspace")
    assert not check["ok"] and why in check["detail"]


def test_missing_unix_account_cannot_be_provisioned(ctx, cluster_side):
    from portal.services import users

    user, _ = users.create_user("ghost", password=PASSWORD, require_unix=False)
    user.unix_user = "ghost"
    db.session.commit()
    with pytest.raises(ServiceError) as err:
        activation.activate(user)
    assert err.value.code == "no_unix_account" and "administrator" in err.value.message
    assert cluster_side["spaces"].provisioned == []


def test_not_activated_user_cannot_create_and_is_told_where(ursula, cluster_side):
    for create in (lambda: jobsvc.create_job(ursula, {"name": "j"}),
                   lambda: sessvc.create_session(ursula, {"name": "s"}),
                   lambda: schedsvc.create_schedule(ursula, {"name": "x"})):
        with pytest.raises(ServiceError) as err:
            create()
        assert err.value.code == "not_activated"
        assert "/account/activation" in err.value.message
        assert "association proja" in err.value.message


def test_activation_is_checked_lazily_and_cached(ursula, cluster_side, monkeypatch):
    cluster_side["accounts"].add_user("ursula", "proja")
    cluster_side["spaces"].dirs["/home/ursula"] = (5001, 0o755)
    activation.require_activated(ursula)  # ready: passes and is remembered
    assert db.session.get(Activation, ursula.id).activated_at is not None
    calls = len(cluster_side["accounts"].calls)
    activation.require_activated(ursula)
    assert len(cluster_side["accounts"].calls) == calls  # no sacctmgr the second time


def test_activation_is_kept_when_a_later_check_fails(ursula, cluster_side):
    activation.activate(ursula)
    del cluster_side["spaces"].dirs["/home/ursula"]
    state = activation.refresh(ursula)
    assert state.activated_at is not None
    assert {c["item"]: c["ok"] for c in state.checks}["workspace"] is False
    activation.require_activated(ursula)  # still allowed


def test_requirement_can_be_switched_off(ursula, app):
    app.config["ACTIVATION_REQUIRED"] = False
    activation.require_activated(ursula)


def test_pages_show_items_and_buttons_work(app, client, auth, cluster_side):
    with app.app_context():
        from portal.services import users

        users.create_user("ursula", password=PASSWORD)
    auth.login()
    page = client.get("/account/activation").get_data(as_text=True)
    assert 'data-item="unix" data-ok="yes"' in page
    assert 'data-item="workspace" data-ok="no"' in page and "Not activated" in page
    token = auth.csrf("/account/activation")
    response = client.post("/account/activation/activate", data={"csrf_token": token},
                           follow_redirects=True)
    assert 'data-item="workspace" data-ok="yes"' in response.get_data(as_text=True)
    assert "is activated" in response.get_data(as_text=True)
    response = client.post("/account/activation/refresh", data={"csrf_token": token},
                           follow_redirects=True)
    assert "Checked again" in response.get_data(as_text=True)


def test_migration_marks_existing_users_activated(tmp_path):
    from alembic import command

    from portal.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0002")
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, display_name, email, password_hash, is_admin, "
            "is_enabled, theme, session_version, created_at) VALUES "
            "('old', '', '', 'x', 0, 1, 'light', 1, '2026-01-01')"))
    command.upgrade(config, "0008")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, activated_at FROM activations")).all()
    assert len(rows) == 1 and rows[0][1] is not None
    engine.dispose()
