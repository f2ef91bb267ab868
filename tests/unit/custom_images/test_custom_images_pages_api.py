"""Pages and API of custom images: the commit form from a session (rules shown, bad
names refused with the rule), the list with state and delete, the menu item, the API
(list, commit through POST /images and /images/custom, two commits refused, delete)."""

from __future__ import annotations

from portal import db
from portal.models import CustomImage
from portal.services import custom_images as svc
from portal.services import tokens


def _token(app, username: str) -> dict:
    from portal.services import users

    with app.test_request_context():
        _, secret = tokens.create_token(users.get_user(username), "t")
        db.session.remove()
    return {"Authorization": f"Bearer {secret}"}


def test_commit_form_list_and_delete(client, auth, running_pages, store, app):
    session_id = running_pages["session_id"]
    auth.login("ursula")
    page = client.get(f"/custom-images/new?session={session_id}").get_data(as_text=True)
    assert 'data-testid="commit-form"' in page and "1–40 characters" in page
    token = auth.csrf(f"/custom-images/new?session={session_id}")
    bad = client.post("/custom-images/new", data={"session": session_id, "csrf_token": token,
                                                  "name": "Bad Name", "tag": "v1"})
    assert bad.status_code == 200 and "1–40 characters" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(CustomImage).count() == 0
    done = client.post("/custom-images/new", data={
        "session": session_id, "csrf_token": token, "name": "tools", "tag": "v1",
        "display_name": "Tools", "framework": "Python 3", "services": ["webterm"]})
    assert done.status_code == 302
    image_id = int(done.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    detail = client.get(f"/custom-images/{image_id}").get_data(as_text=True)
    assert 'data-state="queued"' in detail and 'data-refresh="2"' in detail
    with app.app_context():
        svc.build(image_id)
    listing = client.get("/custom-images/").get_data(as_text=True)
    assert 'data-image="tools:v1"' in listing and "ready" in listing and "lab-1" in listing
    assert "/custom-images/" in client.get("/sessions/").get_data(as_text=True)  # the menu
    form = client.get("/sessions/new").get_data(as_text=True)
    assert 'value="tools:v1"' in form
    deleted = client.post(f"/custom-images/{image_id}/delete",
                          data={"csrf_token": auth.csrf("/custom-images/")})
    assert deleted.status_code == 302
    with app.app_context():
        assert db.session.query(CustomImage).count() == 0


def test_commit_form_of_someone_elses_session_is_404(client, auth, running_pages, app):
    from tests.unit.sessions.sessionfakes import make_member

    with app.app_context():
        make_member("otto")
    auth.login("otto")
    page = client.get(f"/custom-images/new?session={running_pages['session_id']}")
    assert page.status_code == 404


def test_api_commit_list_get_delete(client, running_pages, store, app):
    headers = _token(app, "ursula")
    session_id = running_pages["session_id"]
    bad = client.post("/api/v1/images", json={"session_id": session_id, "name": "-x"},
                      headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_image_name"
    made = client.post("/api/v1/images", json={"session_id": session_id, "name": "tools"},
                       headers=headers)
    assert made.status_code == 202, made.get_json()
    body = made.get_json()
    assert body["key"] == "tools:latest" and body["state"] == "queued"
    again = client.post("/api/v1/images/custom", json={"session_id": session_id,
                                                       "name": "other"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "commit_in_progress"
    # without session_id POST /images is still the admins' registration
    assert client.post("/api/v1/images", json={"name": "x", "path": "/x"},
                       headers=headers).status_code == 403
    with app.app_context():
        svc.build(body["id"])
    listed = client.get("/api/v1/images/custom", headers=headers).get_json()
    assert [i["state"] for i in listed] == ["ready"] and listed[0]["progress"] == 100
    names = [i["name"] for i in client.get("/api/v1/images", headers=headers).get_json()]
    assert "tools:latest" in names
    got = client.get(f"/api/v1/images/custom/{body['id']}", headers=headers).get_json()
    assert got["created_by"] == "ursula" and got["session_name"] == "lab-1"
    assert client.delete(f"/api/v1/images/custom/{body['id']}",
                         headers=headers).status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/images/custom" in spec["paths"] and "CustomImage" in spec["components"]["schemas"]
