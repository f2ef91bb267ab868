"""Issue #17, item 3, on the dev cluster: a real session's "ready", "will end within the
hour" and "ended" (with what the wallet charged) each reach a local SMTP server (aiosmtpd)
and a local webhook receiver exactly once, sent by real worker cycles."""

from __future__ import annotations

import time

import pytest

from portal import db
from portal.models import Session
from portal.services import notify, sessions
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import cycle, wait_for
from tests.support.receivers import http_receiver, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-notify")]


@pytest.fixture
def receivers():
    with smtp_server() as (port, inbox), http_receiver() as (hook_port, posts):
        yield port, inbox, f"http://127.0.0.1:{hook_port}/hook", posts


def _kinds(inbox) -> list[str]:
    return sorted(m["X-Portal-Event"].split()[0] for m in inbox.messages)


def test_a_real_sessions_notifications_arrive_once(portal, receivers):
    port, inbox, hook_url, calls = receivers
    app = portal.app
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="portal@test",
                      NOTIFY_WEBHOOK_ALLOW_PRIVATE=True)
    with app.test_request_context():
        alice = usersvc.get_user("alice")
        alice.email = "alice@example.org"
        db.session.commit()
        notify.save_settings(alice, ["session_ready", "session_ending", "session_ended"],
                             True, hook_url)
        created = sessions.create_session(alice, {
            "name": f"{portal.prefix}-notify", "image": "jupyter", "end": "hours",
            "hours": 1, "cpus": 1, "mem_gb": 1, "ssh_auth": "none", "allow_all": True})
        session_id = created.id
        db.session.remove()

    def state() -> str:
        with app.app_context():
            row = db.session.get(Session, session_id)
            value = row.state
            db.session.remove()
            return value

    try:
        wait_for(lambda: cycle(app) and state() == "running", 120, step=0.5,
                 what="the session to run")
        for _ in range(2):
            cycle(app)
        wait_for(lambda: len(inbox.messages) >= 2, 20, what="two e-mails")
        assert _kinds(inbox) == ["session_ending", "session_ready"]
    finally:
        with app.test_request_context():
            sessions.delete_session(usersvc.get_user("alice"), session_id)
            db.session.remove()
    wait_for(lambda: cycle(app) and state() in ("ended", "failed"), 120, step=0.5,
             what="the session to end")
    wait_for(lambda: cycle(app) is not None and len(inbox.messages) >= 3, 180, step=1,
             what="the 'ended' e-mail with the wallet's charge")
    for _ in range(2):
        cycle(app)
    time.sleep(0.5)
    assert _kinds(inbox) == ["session_ended", "session_ending", "session_ready"]
    ended = next(m for m in inbox.messages if m["X-Portal-Event"].startswith("session_ended"))
    assert "It cost " in ended.get_content()
    assert sorted(c.json()["kind"] for c in calls) == _kinds(inbox)
