"""Idle reclaim (issue #17 item 2) in the browser: the owner of a running session that has
been idle past the project's first warning point sees the banner on its page; clicking
Keep removes it and is recorded (audit, the idle clock); once the session is idle again
without having been used, Keep is not offered a second time in that idle period, and real
use brings it back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import db
from portal.models import AuditEvent, Session, SessionIdle, User
from portal.services import idle, users
from tests.browser.steps import login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _age_keep(app, session_id, minutes):
    """As if `minutes` had passed since the Keep without any use of the session."""
    with app.app_context():
        row = db.session.get(SessionIdle, session_id)
        row.kept_at -= timedelta(minutes=minutes)
        db.session.commit()


def test_banner_keep_and_once_per_idle_period(app, live_server, page, alice):
    with app.app_context():
        owner = db.session.get(User, alice)
        admin, _ = users.create_user("root-admin", unix_user="nobody", password=PASSWORD,
                                     is_admin=True)
        project_id = owner.memberships[0].project_id
        idle.set_policy(admin, project_id, limit_s=3600, warn_s=[1800], gpu_threshold=5)
        session = Session(uuid="idle-b1", name="left-alone", user_id=alice,
                          project_id=project_id, account="proja", image="jupyter", cpus=1,
                          mem_gb=1, state="running", slurm_job_id="4242",
                          started_at=db.utcnow() - timedelta(minutes=40))
        db.session.add(session)
        db.session.commit()
        session_id = session.id
    login(page, live_server, "alice")
    page.goto(f"{live_server}/sessions/{session_id}")
    banner = page.locator("[data-testid=idle-banner]")
    assert "idle for 40 minutes" in banner.inner_text()
    assert "Files in the workspace are kept" in banner.inner_text()

    page.click("[data-testid=idle-keep]")
    page.wait_for_selector(".flash.info:has-text('Kept: the idle clock starts again now.')")
    assert page.locator("[data-testid=idle-banner]").count() == 0
    with app.app_context():
        assert db.session.get(SessionIdle, session_id).kept_at is not None
        kept = db.session.query(AuditEvent).filter_by(action="session.idle_keep").one()
        assert kept.target == f"session:{session_id}" and kept.actor_name == "alice"

    # 31 idle minutes after the Keep, nobody having used the session: warned again, but
    # Keep is not offered a second time in the same idle period.
    _age_keep(app, session_id, 31)
    page.goto(f"{live_server}/sessions/{session_id}")
    assert "idle for 31 minutes" in page.inner_text("[data-testid=idle-banner]")
    assert page.locator("[data-testid=idle-keep]").count() == 0
    assert "Keep was used already" in page.inner_text("[data-testid=idle-keep-used]")

    # Used (e.g. through its proxy) after the Keep, then idle for 31 minutes again: a new
    # idle period, so Keep is offered again.
    with app.app_context():
        row = db.session.get(SessionIdle, session_id)
        row.kept_at -= timedelta(minutes=40)
        row.last_activity_at, row.last_activity_kind = (
            db.utcnow() - timedelta(minutes=31), "proxy")
        db.session.commit()
    page.goto(f"{live_server}/sessions/{session_id}")
    assert page.locator("[data-testid=idle-keep]").count() == 1
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="session.idle_keep").count() == 1
