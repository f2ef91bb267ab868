"""F1 login/logout and the secure defaults of the foundation issue."""

import pytest

from portal import create_app
from portal.config import INSECURE_SECRET
from tests.conftest import PASSWORD


def test_login_then_home_shows_user(make_user, auth, client):
    make_user("ursula")
    response = auth.login()
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="current-user"' in page and "ursula" in page


def test_one_message_for_unknown_user_and_wrong_password(make_user, auth):
    make_user("ursula")
    wrong = auth.login("ursula", "not the password").get_data(as_text=True)
    unknown = auth.login("nobody-here", PASSWORD).get_data(as_text=True)
    assert "Wrong username or password." in wrong
    assert "Wrong username or password." in unknown


def test_pages_need_login(client):
    response = client.get("/settings/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_revokes_copied_cookie(make_user, auth, client, app):
    make_user("ursula")
    auth.login()
    stolen = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_revokes_sessions_and_new_password_works(make_user, auth, client, app):
    make_user("ursula")
    auth.login()
    other = app.test_client()
    from tests.conftest import Auth

    Auth(other).login()
    token = auth.csrf("/settings/profile")
    client.post(
        "/settings/password",
        data={"current": PASSWORD, "new": "a much better passphrase", "csrf_token": token},
    )
    assert other.get("/").status_code == 302  # the other browser is logged out too
    assert auth.login("ursula", PASSWORD).status_code == 401
    assert auth.login("ursula", "a much better passphrase").status_code == 302


def test_weak_new_password_is_refused_and_old_one_still_works(make_user, auth, client):
    make_user("ursula")
    auth.login()
    token = auth.csrf("/settings/profile")
    client.post("/settings/password", data={"current": PASSWORD, "new": "short",
                                             "csrf_token": token})
    page = client.get("/settings/profile").get_data(as_text=True)
    assert "at least 10 characters" in page
    auth.logout()
    assert auth.login().status_code == 302


def test_post_without_csrf_token_is_refused(make_user, client):
    make_user("ursula")
    response = client.post("/login", data={"username": "ursula", "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target", ["///evil.com", "/\\evil.com", "https://evil.com/", "//evil.com"]
)
def test_login_next_never_leaves_the_site(make_user, auth, target):
    make_user("ursula")
    response = auth.login(next_url=target)
    assert response.headers["Location"] == "/"


def test_login_next_to_local_page(make_user, auth):
    make_user("ursula")
    assert auth.login(next_url="/settings/profile").headers["Location"] == "/settings/profile"


def test_login_rate_limit(make_user, auth):
    make_user("ursula")
    codes = [auth.login("ursula", "wrong password!").status_code for _ in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_disabled_user_cannot_log_in(make_user, auth, app):
    from portal import db
    from portal.models import User

    user = db.session.get(User, make_user("ursula").id)
    user.is_enabled = False
    db.session.commit()
    assert auth.login().status_code == 401


def test_refuses_to_start_with_default_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="default secret key"):
        create_app({"SECRET_KEY": INSECURE_SECRET, "DATABASE_URL": "sqlite://"})


def test_session_cookie_flags(make_user, auth, client):
    make_user("ursula")
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
