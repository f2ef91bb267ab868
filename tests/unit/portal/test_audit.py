"""The operation log records logins, failures and logouts, and refuses edits."""

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent


def _actions():
    return [(e.action, e.actor_name, e.source_ip) for e in db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id))]


def test_login_failure_and_logout_are_recorded(make_user, auth):
    make_user("ursula")
    auth.login("ursula", "wrong password!")
    auth.login()
    auth.logout()
    assert _actions() == [
        ("auth.login_failed", "", "127.0.0.1"),
        ("auth.login", "ursula", "127.0.0.1"),
        ("auth.logout", "ursula", "127.0.0.1"),
    ]


def test_log_is_append_only(make_user, auth):
    make_user("ursula")
    auth.login()
    event = db.session.scalars(select(AuditEvent)).first()
    event.action = "forged"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.delete(event)
        db.session.commit()
    db.session.rollback()


def test_forged_forwarded_for_is_ignored_without_trusted_proxy(make_user, auth, client):
    make_user("ursula")
    token_page = client.get("/login").get_data(as_text=True)
    from tests.conftest import csrf_from

    client.post("/login", headers={"X-Forwarded-For": "203.0.113.9"},
                data={"username": "ursula", "password": "nope nope nope",
                      "csrf_token": csrf_from(token_page)})
    assert _actions()[-1][2] == "127.0.0.1"
