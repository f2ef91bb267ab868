"""Who sees which sessions in the list (F2, F3): the owner, other members (project flag
"members may see each other's sessions" off/on), a manager, someone outside the project.
Seeing in the list opens nothing: detail, connection (proxy) and delete stay the owner's
and the managers'."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import Project, ProjectRole
from portal.services import sessions as svc
from portal.services import tokens, users
from tests.unit.sessions.sessionfakes import make_member, register_jupyter, session_data


@pytest.fixture
def crowd(image_app, backend):
    """ursula owns a pending session in proja; vera (member), mona (manager) in proja,
    olga only in projb."""
    with image_app.test_request_context():
        ursula = make_member("ursula")
        make_member("vera")
        make_member("mona", role=ProjectRole.MANAGER)
        make_member("olga", account="projb")
        register_jupyter()
        session = svc.create_session(ursula, session_data(name="ursulas-lab"))
        session_id = session.id
        db.session.remove()
    return session_id


def _flag(app, on: bool) -> None:
    with app.app_context():
        db.session.query(Project).filter_by(account="proja").one().members_see_sessions = on
        db.session.commit()
        db.session.remove()


def _listed(app, username) -> list[str]:
    with app.test_request_context():
        names = [s.name for s in svc.visible_sessions(users.get_user(username))]
        db.session.remove()
    return names


@pytest.mark.parametrize(
    "flag, viewer, sees",
    [
        (False, "ursula", True), (True, "ursula", True),
        (False, "vera", False), (True, "vera", True),
        (False, "mona", True), (True, "mona", True),
        (False, "olga", False), (True, "olga", False),
    ],
)
def test_visibility_matrix(image_app, crowd, flag, viewer, sees):
    _flag(image_app, flag)
    assert ("ursulas-lab" in _listed(image_app, viewer)) is sees


def test_other_member_sees_the_row_but_may_not_open_connect_or_delete(
    image_app, crowd, backend, client, auth
):
    _flag(image_app, True)
    auth.login("vera")
    listing = client.get("/sessions/").get_data(as_text=True)
    assert "ursulas-lab" in listing
    assert f'href="/sessions/{crowd}"' not in listing
    assert f'name="ids" value="{crowd}"' not in listing
    assert 'data-testid="delete-selected"' not in listing
    assert client.get(f"/sessions/{crowd}").status_code == 404
    assert client.get(f"/sessions/{crowd}/terminal").status_code == 404
    assert client.get(f"/s/{crowd}/").status_code in (403, 404)
    token = auth.csrf("/sessions/")
    client.post("/sessions/delete", data={"ids": [str(crowd)], "csrf_token": token,
                                          "confirm": "1"})
    with image_app.app_context():
        from portal.models import Session

        row = db.session.get(Session, crowd)
        assert row.state == "pending" and not row.hidden
        db.session.remove()
    assert not [c for c in backend.scheduler.calls if c.startswith("scancel")]


def test_other_member_api_lists_but_cannot_get_or_delete(image_app, crowd, client):
    _flag(image_app, True)
    with image_app.app_context():
        _, token = tokens.create_token(users.get_user("vera"), "t")
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/sessions", headers=headers).get_json()
    assert [s["name"] for s in listed] == ["ursulas-lab"]
    assert "connection" not in listed[0]
    assert client.get(f"/api/v1/sessions/{crowd}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/sessions/{crowd}", headers=headers).status_code == 404


def test_owner_and_manager_rows_stay_openable(image_app, crowd, client, auth):
    _flag(image_app, True)
    for who in ("ursula", "mona"):
        auth.login(who)
        listing = client.get("/sessions/").get_data(as_text=True)
        assert f'href="/sessions/{crowd}"' in listing
        assert f'name="ids" value="{crowd}"' in listing
        auth.logout()
