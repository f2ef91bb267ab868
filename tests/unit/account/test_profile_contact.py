"""Profile (display name, contact, validated email, password change) and the contact page."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import db
from portal.models import AuditEvent, User
from portal.services import ServiceError
from portal.services import account as svc
from tests.conftest import PASSWORD, csrf_from


@pytest.mark.parametrize("good", ["a@b.co", "first.last+tag@sub.example.org", "x_y-z@a-b.io",
                                  "o'hara@example.com", "  pad@example.com  "])
def test_good_emails(app, good):
    with app.test_request_context():
        assert svc.validate_email(good) == good.strip()


@pytest.mark.parametrize("bad", ["plain", "a@b", "a@@b.co", "a@b.c", ".a@b.co", "a.@b.co",
                                 "a..b@b.co", "a@-b.co", "a@b-.co", "a b@c.co", "a@b\n.co",
                                 "\"q\"@b.co", "a@[1.2.3.4]", "ü@b.co", "a@b.123",
                                 "x" * 65 + "@b.co", "a@" + "b" * 64 + ".co",
                                 "a@b.co<script>"])
def test_bad_emails(app, bad):
    with app.test_request_context(), pytest.raises(ServiceError) as err:
        svc.validate_email(bad)
    assert err.value.code == "invalid_email"


@given(st.one_of(st.text(max_size=80), st.emails()))
@settings(max_examples=300, deadline=None)
def test_email_check_accepts_only_plain_ascii_addresses(value):
    """Never crashes; whatever passes is one plain ASCII address without blanks or markup."""
    try:
        result = svc.validate_email(value)
    except ServiceError:
        return
    assert result == value.strip()
    if result:
        assert result.isascii() and result.count("@") == 1 and len(result) <= 254
        assert not any(c.isspace() for c in result) and "<" not in result


def test_profile_update_and_bad_input_changes_nothing(app, client, auth, make_user):
    make_user("ursula")
    auth.login()
    token = auth.csrf("/settings/profile")
    client.post("/settings/profile", data={"csrf_token": token, "display_name": "Ursula K",
                                          "contact": "+886 2 1234", "email": "u@example.org"})
    page = client.get("/settings/profile").get_data(as_text=True)
    assert 'value="Ursula K"' in page and 'value="+886 2 1234"' in page
    response = client.post("/settings/profile", data={
        "csrf_token": token, "display_name": "Changed", "contact": "x", "email": "nope"},
        follow_redirects=True)
    assert "not a valid email" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).filter_by(username="ursula").one()
        assert (user.display_name, user.email) == ("Ursula K", "u@example.org")
        assert svc.contact_of(user) == "+886 2 1234"
        assert db.session.query(AuditEvent).filter_by(action="profile.update").count() == 1


def test_password_change_needs_old_password_policy_and_logs_out_other_sessions(
        app, make_user):
    make_user("ursula")
    from tests.conftest import Auth

    first, second = app.test_client(), app.test_client()
    Auth(first).login(), Auth(second).login()
    token = csrf_from(first.get("/settings/profile").get_data(as_text=True))

    def change(current, new):
        return first.post("/settings/password", data={"csrf_token": token, "current": current,
                                                     "new": new}, follow_redirects=True)

    assert "not correct" in change("wrong password", "another long one").get_data(as_text=True)
    assert "at least 10" in change(PASSWORD, "short").get_data(as_text=True)
    assert second.get("/settings/profile").status_code == 200  # nothing changed yet
    change(PASSWORD, "another long password")
    assert second.get("/settings/profile").status_code == 302  # the other session is out
    assert Auth(app.test_client()).login(password="another long password").status_code == 302
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent)]
        assert actions.count("auth.password_change_failed") == 2
        assert "auth.password_change" in actions


def test_contact_text_is_plain_text_admins_edit_it(app, client, auth, make_user):
    make_user("ursula"), make_user("root1", admin=True)
    auth.login("root1")
    token = auth.csrf("/account/contact")
    body = "Call <b>Ops</b> & co\n<script>alert(1)</script>\nRoom 3"
    client.post("/account/contact", data={"csrf_token": token, "body": body})
    auth.logout()
    auth.login("ursula")
    page = client.get("/account/contact").get_data(as_text=True)
    assert "Call &lt;b&gt;Ops&lt;/b&gt; &amp; co<br>" in page
    assert "<script>alert(1)" not in page and "Room 3" in page
    assert 'data-testid="contact-body"' not in page  # no edit form for users
    token = auth.csrf("/account/contact")
    response = client.post("/account/contact", data={"csrf_token": token, "body": "hacked"},
                           follow_redirects=True)
    assert "Only administrators" in response.get_data(as_text=True)
    with app.app_context():
        assert svc.contact_text().body == body
        events = db.session.query(AuditEvent).filter_by(action="admin.contact_update").all()
        assert len(events) == 1 and events[0].actor_name == "root1"


def test_contact_text_too_long_is_refused(app, make_user):
    admin = make_user("root1", admin=True)
    with app.test_request_context():
        admin = db.session.merge(admin)
        with pytest.raises(ServiceError):
            svc.set_contact_text(admin, "x" * 10_001)
        assert svc.contact_text() is None
